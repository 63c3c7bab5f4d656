// Package secrets finds credentials in text (cloud keys, tokens, private
// keys, JWTs, connection strings, high-entropy values assigned to secret
// names) and returns them as redactable spans.
//
// The rules are data: an embedded, versioned YAML pack (rules.yaml) that
// [Options.Extra] can extend. Every rule names literal keywords; one
// Aho-Corasick pass over the input finds them, and a rule's RE2 pattern
// runs only in a small window around its keywords, so text without
// credentials costs one linear scan.
//
//	d, err := secrets.New(secrets.Options{})
//	clean, found := d.Redact(text) // "key=[REDACTED:aws-access-key]"
//
// A [Detector] is immutable and safe for concurrent use; build it once.
package secrets

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"mcpwarden/internal/prefilter"
)

//go:embed rules.yaml
var builtin []byte

// Format is the format line every secrets rule file must carry.
const Format = "mcpwarden.secrets/v1"

// Rule is one credential pattern, as written in a rule file.
type Rule struct {
	ID       string   `yaml:"id"`
	Keywords []string `yaml:"keywords"`
	Regex    string   `yaml:"regex"`
	// Match selects a built-in matcher instead of Regex: "assignment"
	// (a value assigned to an identifier that Names matches) or
	// "url-password" (the password in scheme://user:password@host).
	Match string `yaml:"match"`
	Names string `yaml:"names"`
	// Near lists literals one of which must occur in the window before
	// the regex runs, a cheap check for rules with common keywords.
	Near       []string `yaml:"near"`
	Before     *int     `yaml:"before"`
	After      *int     `yaml:"after"`
	Entropy    float64  `yaml:"entropy"`
	Digits     bool     `yaml:"digits"`
	Confidence float64  `yaml:"confidence"`
}

// Pack is a versioned rule file.
type Pack struct {
	Format  string `yaml:"format"`
	Version string `yaml:"version"`
	Rules   []Rule `yaml:"rules"`
}

// ParsePack decodes a rule file strictly: unknown fields, a missing or
// wrong format line and an empty rule list are errors.
func ParsePack(data []byte) (*Pack, error) {
	var p Pack
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding secrets rule pack: %w", err)
	}
	if p.Format != Format {
		return nil, fmt.Errorf("secrets rule pack format %q, want %q", p.Format, Format)
	}
	if p.Version == "" {
		return nil, errors.New("secrets rule pack has no version")
	}
	if len(p.Rules) == 0 {
		return nil, errors.New("secrets rule pack has no rules")
	}
	return &p, nil
}

// Options configures a [Detector]. The zero value uses the built-in rules.
type Options struct {
	// Extra rules are added after the built-in ones.
	Extra []Rule
	// Disabled lists rule IDs to leave out.
	Disabled []string
}

// Span is a half-open byte range of the input.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Match is one credential found in a text.
type Match struct {
	Type       string  `json:"type"` // rule ID: "aws-access-key"
	Span       Span    `json:"span"` // the secret itself, ready to redact
	Confidence float64 `json:"confidence"`
}

// Placeholder is the text that replaces the secret: [REDACTED:type].
func (m Match) Placeholder() string { return Placeholder(m.Type) }

// Placeholder returns the redaction placeholder for a secret type.
func Placeholder(typ string) string { return "[REDACTED:" + typ + "]" }

type rule struct {
	Rule
	re            *regexp.Regexp
	names         *regexp.Regexp
	before, after int
}

// Detector finds secrets. It is immutable and safe for concurrent use.
type Detector struct {
	version string
	rules   []rule
	ac      *prefilter.Matcher
	kwRules [][]int // keyword pattern ID → rule indexes

	lowerKW    []string // keywords lower-cased and deduplicated, for Keywords
	lowerRules [][]int  // lowerKW index → rule indexes
}

// New compiles the built-in rules plus opt.Extra. A rule that does not
// compile is an error: a detector never silently runs without a rule.
func New(opt Options) (*Detector, error) {
	p, err := ParsePack(builtin)
	if err != nil {
		return nil, fmt.Errorf("built-in secrets rules: %w", err)
	}
	disabled := map[string]bool{}
	for _, id := range opt.Disabled {
		disabled[id] = true
	}
	d := &Detector{version: p.Version}
	kwIndex := map[string]int{}
	var keywords []string
	for i, r := range append(p.Rules, opt.Extra...) {
		if disabled[r.ID] {
			continue
		}
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("secrets rule %d (%q): %w", i, r.ID, err)
		}
		idx := len(d.rules)
		d.rules = append(d.rules, cr)
		for _, kw := range r.Keywords {
			k, ok := kwIndex[kw]
			if !ok {
				k = len(keywords)
				kwIndex[kw] = k
				keywords = append(keywords, kw)
				d.kwRules = append(d.kwRules, nil)
			}
			d.kwRules[k] = append(d.kwRules[k], idx)
		}
	}
	if len(d.rules) == 0 {
		return nil, errors.New("every secrets rule is disabled")
	}
	lowerIndex := map[string]int{}
	for k, kw := range keywords {
		lk := strings.ToLower(kw)
		i, ok := lowerIndex[lk]
		if !ok {
			i = len(d.lowerKW)
			lowerIndex[lk] = i
			d.lowerKW = append(d.lowerKW, lk)
			d.lowerRules = append(d.lowerRules, nil)
		}
		for _, ri := range d.kwRules[k] {
			if !slices.Contains(d.lowerRules[i], ri) {
				d.lowerRules[i] = append(d.lowerRules[i], ri)
			}
		}
	}
	for i := range d.lowerRules {
		slices.Sort(d.lowerRules[i]) // rule order is priority order
	}
	ac, err := prefilter.New(keywords)
	if err != nil {
		return nil, fmt.Errorf("building secrets keyword automaton: %w", err)
	}
	d.ac = ac
	return d, nil
}

func compileRule(r Rule) (rule, error) {
	if r.ID == "" || strings.ToLower(r.ID) != r.ID || strings.ContainsAny(r.ID, " []:") {
		return rule{}, fmt.Errorf("id %q must be non-empty lower-case without spaces, brackets or colons", r.ID)
	}
	if len(r.Keywords) == 0 {
		return rule{}, errors.New("no keywords: every rule needs at least one for the prefilter")
	}
	for _, k := range r.Keywords {
		if k == "" {
			return rule{}, errors.New("empty keyword")
		}
	}
	var re, names *regexp.Regexp
	switch r.Match {
	case "":
		var err error
		if re, err = regexp.Compile(r.Regex); err != nil {
			return rule{}, fmt.Errorf("regex: %w", err)
		}
		if re.NumSubexp() > 1 {
			return rule{}, errors.New("regex has more than one capture group; use (?:...) for grouping")
		}
	case "assignment":
		var err error
		if names, err = regexp.Compile(r.Names); err != nil || r.Names == "" {
			return rule{}, fmt.Errorf("assignment rule needs a valid names pattern: %v", err)
		}
	case "url-password":
	default:
		return rule{}, fmt.Errorf("unknown match %q (want assignment or url-password)", r.Match)
	}
	if r.Match != "" && r.Regex != "" {
		return rule{}, errors.New("a rule has either regex or match, not both")
	}
	if r.Confidence < 0 || r.Confidence > 1 {
		return rule{}, fmt.Errorf("confidence %v outside 0..1", r.Confidence)
	}
	if r.Confidence == 0 {
		r.Confidence = 0.8
	}
	cr := rule{Rule: r, re: re, names: names, before: 64, after: 320}
	if r.Before != nil {
		cr.before = *r.Before
	}
	if r.After != nil {
		cr.after = *r.After
	}
	if cr.before < 0 || cr.after <= 0 {
		return rule{}, errors.New("before must be >= 0 and after > 0")
	}
	return cr, nil
}

// Version is the built-in rule pack's version.
func (d *Detector) Version() string { return d.version }

// Types lists the secret types the detector knows, sorted.
func (d *Detector) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range d.rules {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return out
}

// Find returns the secrets in s, ordered by position and not overlapping.
// Where matches overlap, the one from the earlier (more specific) rule
// wins.
func (d *Detector) Find(s string) []Match {
	if len(s) < 8 {
		return nil
	}
	hits := d.ac.Scan(s, nil)
	if len(hits) == 0 {
		return nil
	}
	hs := make([]Hit, len(hits))
	for i, h := range hits {
		hs[i] = Hit{Start: h.Start, End: h.End, rules: d.kwRules[h.Pattern]}
	}
	return d.find(s, hs)
}

// Hit is a keyword occurrence found by a caller's own automaton: the
// keyword Keywords()[Keyword] at s[Start:End], matched without regard to
// case.
type Hit struct {
	Keyword    int
	Start, End int
	rules      []int
}

// Keywords returns the prefilter keywords, lower-cased and deduplicated,
// for a caller that already runs a case-insensitive automaton over the
// text (the detection engine) and passes its hits to [Detector.FindHits],
// saving a second pass.
func (d *Detector) Keywords() []string { return append([]string(nil), d.lowerKW...) }

// FindHits is [Detector.Find] with the keyword scan done by the caller.
// hits must be ordered by End and lie within s; they may match keywords
// in any case, since every rule re-checks its own pattern on s. FindHits
// annotates the hits in place; the caller must not share them.
func (d *Detector) FindHits(s string, hits []Hit) []Match {
	if len(s) < 8 || len(hits) == 0 {
		return nil
	}
	for i := range hits {
		if k := hits[i].Keyword; k >= 0 && k < len(d.lowerRules) && hits[i].Start >= 0 && hits[i].End <= len(s) && hits[i].Start < hits[i].End {
			hits[i].rules = d.lowerRules[k]
		} else {
			hits[i].rules = nil
		}
	}
	return d.find(s, hits)
}

func (d *Detector) find(s string, hits []Hit) []Match {
	type cand struct {
		m    Match
		rule int
	}
	var cands []cand
	// scanned[r] is how far rule r has already been run, so a keyword
	// repeated inside one window does not rerun the pattern.
	scanned := make([]int, len(d.rules))
	for _, h := range hits {
		// Keywords are word prefixes ("key" must not fire inside
		// "monkey"), except where the keyword itself starts with a
		// non-word character.
		if isWordByte(s[h.Start]) && h.Start > 0 && isWordByte(s[h.Start-1]) && s[h.Start-1] != '_' {
			continue
		}
		for _, ri := range h.rules {
			r := &d.rules[ri]
			if r.Match != "" {
				if sp, ok := r.matchAt(s, h.Start, h.End); ok && r.accept(s[sp.Start:sp.End]) {
					cands = append(cands, cand{Match{Type: r.ID, Span: sp, Confidence: r.Confidence}, ri})
				}
				continue
			}
			ws := max(h.Start-r.before, 0)
			we := min(h.End+r.after, len(s))
			if we <= scanned[ri] {
				continue
			}
			ws = max(ws, scanned[ri])
			scanned[ri] = we
			win := s[ws:we]
			if len(r.Near) > 0 && !containsAny(win, r.Near) {
				continue
			}
			for _, loc := range r.re.FindAllStringSubmatchIndex(win, -1) {
				st, en := loc[0], loc[1]
				if len(loc) >= 4 && loc[2] >= 0 {
					st, en = loc[2], loc[3]
				}
				val := win[st:en]
				if !r.accept(val) {
					continue
				}
				cands = append(cands, cand{Match{Type: r.ID, Span: Span{ws + st, ws + en}, Confidence: r.Confidence}, ri})
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.m.Span.Start != b.m.Span.Start {
			return a.m.Span.Start < b.m.Span.Start
		}
		if a.rule != b.rule {
			return a.rule < b.rule
		}
		return a.m.Span.End > b.m.Span.End
	})
	out := make([]Match, 0, len(cands))
	keptRule := -1
	for _, c := range cands {
		if n := len(out); n > 0 && c.m.Span.Start < out[n-1].Span.End {
			// An earlier rule is more specific; let it take over a match
			// it covers entirely.
			if c.rule < keptRule && c.m.Span.End >= out[n-1].Span.End {
				out[n-1], keptRule = c.m, c.rule
			}
			continue
		}
		out = append(out, c.m)
		keptRule = c.rule
	}
	return out
}

// placeholderWords mark example values that documentation is full of.
var placeholderWords = []string{"example", "xxxx", "your", "here", "redacted", "changeme", "dummy", "sample", "placeholder", "<", "${", "{{", "*****", "test1234", "abcdef", "123456"}

func (r *rule) accept(val string) bool {
	if r.Digits && !strings.ContainsAny(val, "0123456789") {
		return false
	}
	if r.Entropy > 0 && Entropy(val) < r.Entropy {
		return false
	}
	if r.ID == "generic-secret" || r.ID == "bearer-token" || r.ID == "connection-string" {
		lv := strings.ToLower(val)
		for _, w := range placeholderWords {
			if strings.Contains(lv, w) {
				return false
			}
		}
	}
	return true
}

// Entropy is the Shannon entropy of s in bits per byte: random keys have
// more than words do.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Redact replaces every secret in s with its placeholder and returns the
// result with the matches (spans refer to s). Redacting twice changes
// nothing: placeholders never match a rule.
func (d *Detector) Redact(s string) (string, []Match) {
	ms := d.Find(s)
	if len(ms) == 0 {
		return s, nil
	}
	return Apply(s, ms), ms
}

// Apply replaces the spans of ms (ordered, not overlapping) in s with
// their placeholders.
func Apply(s string, ms []Match) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range ms {
		if m.Span.Start < last || m.Span.End > len(s) {
			continue
		}
		b.WriteString(s[last:m.Span.Start])
		b.WriteString(m.Placeholder())
		last = m.Span.End
	}
	b.WriteString(s[last:])
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isIdentByte(c byte) bool { return isWordByte(c) || c == '.' || c == '-' }

// valueByte is a character a secret value may contain.
func valueByte(c byte) bool {
	return isWordByte(c) || strings.IndexByte("+/=!@#$%^&*.~-", c) >= 0
}

// matchAt runs a built-in matcher for the keyword at [ks, ke).
func (r *rule) matchAt(s string, ks, ke int) (Span, bool) {
	switch r.Match {
	case "assignment":
		return r.assignment(s, ks, ke)
	case "url-password":
		return urlPassword(s, ks)
	}
	return Span{}, false
}

// assignment finds NAME <sep> VALUE around a keyword inside NAME, where
// sep is ':', '=', ':=' or '=>' with optional quotes and blanks, as in
// source code, JSON, YAML, .env files and query strings.
func (r *rule) assignment(s string, ks, ke int) (Span, bool) {
	l, e := ks, ke
	for l > 0 && ks-l < 64 && isIdentByte(s[l-1]) {
		l--
	}
	for e < len(s) && e-ke < 64 && isIdentByte(s[e]) {
		e++
	}
	if !r.names.MatchString(s[l:e]) {
		return Span{}, false
	}
	i := e
	skipQuote := func() {
		if i < len(s) && s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'') {
			i += 2
		} else if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			i++
		}
	}
	skipBlanks := func() {
		for n := 0; n < 4 && i < len(s) && (s[i] == ' ' || s[i] == '\t'); n++ {
			i++
		}
	}
	skipQuote()
	skipBlanks()
	switch {
	case strings.HasPrefix(s[i:], ":=") || strings.HasPrefix(s[i:], "=>"):
		i += 2
	case i < len(s) && (s[i] == ':' || s[i] == '='):
		i++
	default:
		return Span{}, false
	}
	skipBlanks()
	skipQuote()
	v := i
	for i < len(s) && i-v < 256 && valueByte(s[i]) {
		i++
	}
	if i-v < 12 {
		return Span{}, false
	}
	return Span{v, i}, true
}

// urlPassword finds the password of scheme://user:password@host for the
// "://" at p.
func urlPassword(s string, p int) (Span, bool) {
	b := p
	for b > 0 && p-b < 20 && (isWordByte(s[b-1]) || s[b-1] == '+' || s[b-1] == '.' || s[b-1] == '-') {
		b--
	}
	if b == p {
		return Span{}, false
	}
	start := p + 3
	end := start
	for end < len(s) && end-start < 640 && strings.IndexByte("/?#\"'<> \t\r\n", s[end]) < 0 {
		end++
	}
	auth := s[start:end]
	at := strings.LastIndexByte(auth, '@')
	if at < 0 || at == len(auth)-1 {
		return Span{}, false
	}
	colon := strings.IndexByte(auth[:at], ':')
	if colon < 1 || colon > 128 || at-colon-1 < 3 || at-colon-1 > 256 {
		return Span{}, false
	}
	return Span{start + colon + 1, start + at}, true
}

func containsAny(s string, lits []string) bool {
	for _, l := range lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}
