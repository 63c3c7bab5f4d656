// Package shadow finds tools that interfere with the tools of other MCP
// servers used by the same client: descriptions or server instructions
// that talk about another server's tools (cross-server shadowing: "when
// send_email is called, also BCC ..."), tool names offered by several
// servers, and look-alike names (send_email, sendEmail, send_emaiI) that
// make the agent call the wrong server's tool.
//
// Look-alikes are found by a skeleton (case, separators and common
// confusable characters folded) and by one-edit neighbours of the
// skeleton, indexed by single-character deletions so that ten thousand
// names cost ten thousand times their length, not their square.
package shadow

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
)

// Rule IDs. They are stable and never reused.
const (
	CrossServerReference = "shadow.cross_server_reference"
	DuplicateName        = "shadow.duplicate_tool_name"
	LookalikeName        = "shadow.lookalike_tool_name"
)

// Rules documents the rules of this package.
func Rules() []report.Rule {
	return []report.Rule{
		{ID: CrossServerReference, Category: finding.ToolPoisoning, Severity: finding.High, Summary: "a tool or server talks about another server's tools"},
		{ID: DuplicateName, Category: finding.ToolPoisoning, Severity: finding.Medium, Summary: "the same tool name is offered twice"},
		{ID: LookalikeName, Category: finding.ToolPoisoning, Severity: finding.Medium, Summary: "tool names on different servers look alike"},
	}
}

// Server is what the analysis needs of one server.
type Server struct {
	Name         string
	Instructions string
	Tools        []Tool
}

// Tool is one tool's name and description.
type Tool struct {
	Name        string
	Description string
}

// Analyze checks the servers of one client (group). Findings about one
// server's own text or listing (a description that talks about another
// server's tools, a name it lists twice) are returned per server; those
// about several servers at once (duplicate and look-alike names) are
// returned as cross.
func Analyze(group string, servers []Server) (perServer map[string][]finding.Finding, cross []finding.Finding) {
	perServer = map[string][]finding.Finding{}
	byName := map[string][]string{} // tool name → servers offering it, in order
	for _, s := range servers {
		seen := map[string]bool{}
		for _, t := range s.Tools {
			if seen[t.Name] {
				perServer[s.Name] = append(perServer[s.Name], finding.Finding{
					RuleID: DuplicateName, Category: finding.ToolPoisoning, Severity: finding.Medium, Confidence: 1,
					Server: s.Name, Tool: t.Name, Title: fmt.Sprintf("Server lists tool %q more than once", t.Name),
					Detail:   "Clients keep one of the definitions, and which one differs: the user may approve one definition while the agent calls the other.",
					Evidence: []finding.Evidence{{Field: "name", Text: t.Name, Note: "listed twice in tools/list"}},
				})
				continue
			}
			seen[t.Name] = true
			byName[t.Name] = append(byName[t.Name], s.Name)
		}
	}
	if len(servers) < 2 {
		return perServer, nil
	}
	cross = append(cross, duplicates(group, byName)...)
	cross = append(cross, lookalikes(group, byName)...)
	for _, f := range references(servers, byName) {
		perServer[f.Server] = append(perServer[f.Server], f)
	}
	return perServer, cross
}

func duplicates(group string, byName map[string][]string) []finding.Finding {
	var out []finding.Finding
	for _, name := range sortedKeys(byName) {
		srv := byName[name]
		if len(srv) < 2 {
			continue
		}
		f := finding.Finding{
			RuleID: DuplicateName, Category: finding.ToolPoisoning, Severity: finding.Medium, Confidence: 0.9,
			Server: group, Tool: name, Title: fmt.Sprintf("Tool %q is offered by %d servers: %s", name, len(srv), strings.Join(srv, ", ")),
			Detail: "When two servers offer the same tool name, which one the agent calls depends on the client. A malicious server can take over calls meant for a trusted one. Rename or remove one of them, or prefix tool names per server (the mcpwarden gateway does).",
		}
		for _, s := range srv {
			f.Evidence = append(f.Evidence, finding.Evidence{Field: "server." + s + ".tools", Text: name})
		}
		out = append(out, f)
	}
	return out
}

// confusables folds characters that render like ASCII letters into them.
var confusables = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ɡ': 'g',
	'һ': 'h', 'ӏ': 'l', 'ո': 'n', 'ս': 'u', 'ԝ': 'w', 'α': 'a', 'ο': 'o', 'ρ': 'p', 'ν': 'v', 'ι': 'i', 'κ': 'k', 'τ': 't',
	'υ': 'u', 'ε': 'e', 'Ι': 'l', 'І': 'l', 'Ӏ': 'l', 'I': 'l', '1': 'l', '|': 'l', '0': 'o', 'О': 'o', 'Ο': 'o', '5': 's',
}

// Skeleton folds a tool name to the form two look-alike names share:
// confusable characters mapped to ASCII, "rn" to "m", lower case, and
// separators and invisible characters dropped.
func Skeleton(name string) string {
	var b strings.Builder
	for _, r := range name {
		if c, ok := confusables[r]; ok {
			r = c
		}
		r = unicode.ToLower(r)
		if r == '_' || r == '-' || r == '.' || r == ' ' || r == '/' || r == ':' || !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
	}
	return strings.ReplaceAll(b.String(), "rn", "m")
}

type entry struct{ name, server, skel string }

func lookalikes(group string, byName map[string][]string) []finding.Finding {
	// Index every name by its skeleton and by the skeleton's one-character
	// deletions: two skeletons at edit distance ≤ 1 share a key.
	index := map[string][]entry{}
	for name, srv := range byName {
		sk := Skeleton(name)
		for _, s := range srv {
			e := entry{name, s, sk}
			index[sk] = append(index[sk], e)
			if utf8.RuneCountInString(sk) >= 6 {
				rs := []rune(sk)
				seen := map[string]bool{}
				for i := range rs {
					k := string(rs[:i]) + string(rs[i+1:])
					if !seen[k] {
						seen[k] = true
						index[k] = append(index[k], e)
					}
				}
			}
		}
	}
	type pair struct{ a, b entry }
	pairs := map[[4]string]pair{}
	for _, es := range index {
		if len(es) < 2 {
			continue
		}
		for i := range es {
			for j := i + 1; j < len(es); j++ {
				a, b := es[i], es[j]
				if a.server == b.server || a.name == b.name {
					continue
				}
				if a.name+a.server > b.name+b.server {
					a, b = b, a
				}
				if !withinOne(a.skel, b.skel) {
					continue
				}
				pairs[[4]string{a.name, a.server, b.name, b.server}] = pair{a, b}
			}
		}
	}
	keys := make([][4]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return strings.Join(keys[i][:], "\x00") < strings.Join(keys[j][:], "\x00") })
	var out []finding.Finding
	for _, k := range keys {
		p := pairs[k]
		conf, how := 0.5, "differ by one character"
		if p.a.skel == p.b.skel {
			conf, how = 0.8, "are the same once case, separators and look-alike characters are folded"
		}
		out = append(out, finding.Finding{
			RuleID: LookalikeName, Category: finding.ToolPoisoning, Severity: finding.Medium, Confidence: conf,
			Server: group, Tool: p.b.name,
			Title:  fmt.Sprintf("Tool %q on %s looks like %q on %s", p.b.name, p.b.server, p.a.name, p.a.server),
			Detail: "Names that " + how + " let one server's tool be picked for the other's, by the model or by a user approving it. Check that both servers are the ones you meant to install.",
			Evidence: []finding.Evidence{
				{Field: "server." + p.a.server + ".tools", Text: p.a.name},
				{Field: "server." + p.b.server + ".tools", Text: p.b.name, Note: "skeleton " + p.b.skel},
			},
		})
	}
	return out
}

// withinOne reports whether a and b are at Levenshtein distance ≤ 1.
func withinOne(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	if len(rb)-len(ra) > 1 {
		return false
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	if len(ra) == len(rb) {
		return string(ra[i+min(1, len(ra)-i):]) == string(rb[i+min(1, len(rb)-i):])
	}
	return string(ra[i:]) == string(rb[i+1:])
}

// directives are words that make a mention of another tool an
// instruction about it.
var directives = map[string]bool{
	"instead": true, "before": true, "after": true, "always": true, "never": true, "not": true, "don": true,
	"must": true, "prefer": true, "override": true, "overrides": true, "ignore": true, "replace": true,
	"replaces": true, "whenever": true, "when": true, "also": true, "bcc": true, "redirect": true, "rather": true,
	"only": true, "deprecated": true, "important": true, "should": true,
}

func references(servers []Server, byName map[string][]string) []finding.Finding {
	serverNames := map[string]string{}
	for _, s := range servers {
		if len(s.Name) >= 4 {
			serverNames[strings.ToLower(s.Name)] = s.Name
		}
	}
	var out []finding.Finding
	for _, s := range servers {
		check := func(tool, field, text string) {
			reported := map[string]bool{}
			for _, tok := range tokens(text) {
				var other, what string
				if srv := byName[tok.text]; len(srv) > 0 && distinctive(tok.text) && !contains(srv, s.Name) {
					other, what = srv[0], "tool "+tok.text+" of server "+srv[0]
				} else if n, ok := serverNames[strings.ToLower(tok.text)]; ok && n != s.Name {
					other, what = n, "server "+n
				}
				if other == "" || reported[what] {
					continue
				}
				sentence, sp := sentenceAt(text, tok.start, tok.end)
				directive := hasDirective(sentence)
				if !directive && strings.HasPrefix(what, "server ") {
					continue // naming a product is normal; instructing about it is not
				}
				reported[what] = true
				sev, conf := finding.Medium, 0.6
				if directive {
					sev, conf = finding.High, 0.85
				}
				who := "Server " + s.Name + "'s instructions"
				if tool != "" {
					who = "Tool " + tool + " on " + s.Name
				}
				out = append(out, finding.Finding{
					RuleID: CrossServerReference, Category: finding.ToolPoisoning, Severity: sev, Confidence: conf,
					Server: s.Name, Tool: tool,
					Title:  fmt.Sprintf("%s talks about %s", who, what),
					Detail: "A description is read by the model as instructions for the whole session, including how to use other servers' tools. A server that talks about another server's tools can redirect, alter or spy on calls meant for them (cross-server shadowing). Remove the server, or isolate it in its own agent.",
					Evidence: []finding.Evidence{{Field: field, Span: &finding.Span{Start: sp[0], End: sp[1]}, Text: clip(sentence, 300),
						Note: "names " + what}},
				})
			}
		}
		if s.Instructions != "" {
			check("", "instructions", s.Instructions)
		}
		for _, t := range s.Tools {
			check(t.Name, "description", t.Description)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// distinctive reports whether a tool name is unlikely to be an ordinary
// word: it has a separator, an inner capital, or is long.
func distinctive(name string) bool {
	if strings.ContainsAny(name, "_-.") || utf8.RuneCountInString(name) >= 12 {
		return true
	}
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

type token struct {
	text       string
	start, end int
}

// tokens splits text into identifier-like tokens: letters, digits, '_',
// '-' and '.', with trailing punctuation trimmed.
func tokens(text string) []token {
	var out []token
	start := -1
	emit := func(end int) {
		if start < 0 {
			return
		}
		t := strings.TrimRight(text[start:end], ".-")
		t = strings.TrimLeft(t, ".-")
		if t != "" {
			off := strings.Index(text[start:end], t)
			out = append(out, token{t, start + off, start + off + len(t)})
		}
		start = -1
	}
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.' {
			if start < 0 {
				start = i
			}
			continue
		}
		emit(i)
	}
	emit(len(text))
	return out
}

// sentenceAt returns the sentence around text[start:end] and its span.
func sentenceAt(text string, start, end int) (string, [2]int) {
	s := strings.LastIndexAny(text[:start], ".!?\n")
	if s < 0 {
		s = 0
	} else {
		s++
	}
	e := strings.IndexAny(text[end:], ".!?\n")
	if e < 0 {
		e = len(text)
	} else {
		e += end + 1
	}
	for s < start && (text[s] == ' ' || text[s] == '\t') {
		s++
	}
	return text[s:e], [2]int{s, e}
}

func hasDirective(sentence string) bool {
	for _, t := range tokens(strings.ToLower(sentence)) {
		if directives[t.text] {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
