// Package toxicflow finds the "lethal trifecta" across the MCP servers of
// one client: a tool that brings untrusted content into the agent's
// context (a web page, a ticket, an email), a tool that reads private
// data (files, databases, secrets), and a tool that can send data out (an
// email, an HTTP request to any URL). An agent with all three can be
// steered by the untrusted content to read the private data and send it
// away, whichever servers the tools belong to.
//
// Tools are labelled from their capability profile, names and
// annotations ([Label]); [Analyze] reports each way out with every
// source and reader that completes a path to it.
package toxicflow

import (
	"fmt"
	"sort"
	"strings"

	"mcpwarden/internal/capability"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
	"mcpwarden/internal/tooldef"
)

// Rule IDs. They are stable and never reused.
const (
	LethalTrifecta   = "toxic_flow.lethal_trifecta"
	UntrustedContent = "injection.untrusted_content"
)

// Flow labels, as in [report.Tool.FlowLabels].
const (
	Source  = "untrusted_source"
	Private = "private_reader"
	Sink    = "exfil_sink"
)

// Rules documents the rules of this package.
func Rules() []report.Rule {
	return []report.Rule{
		{ID: LethalTrifecta, Category: finding.ToxicFlow, Severity: finding.High, Summary: "untrusted input, private data and a way out are reachable together"},
		{ID: UntrustedContent, Category: finding.IndirectPromptInjection, Severity: finding.Low, Summary: "the tool brings third-party content into the agent's context"},
	}
}

// Labels says which roles a tool can play, each with the reason.
type Labels struct {
	Source, Private, Sink string // "" when the tool does not play the role
}

// List returns the labels set, in report form.
func (l Labels) List() []string {
	var out []string
	for _, x := range []struct{ why, name string }{{l.Source, Source}, {l.Private, Private}, {l.Sink, Sink}} {
		if x.why != "" {
			out = append(out, x.name)
		}
	}
	return out
}

var (
	readVerbs = capability.Set("get", "read", "list", "search", "fetch", "view", "show", "query", "find", "lookup",
		"browse", "load", "open", "cat", "retrieve", "download", "scrape", "crawl", "check", "describe", "inspect", "tail")
	sendVerbs = capability.Set("send", "post", "reply", "publish", "notify", "forward", "share", "upload", "push",
		"submit", "email", "mail", "message", "tweet", "comment", "create", "write", "invite", "webhook")
	thirdParty = capability.Set("ticket", "tickets", "issue", "issues", "comment", "comments", "review", "reviews",
		"post", "posts", "feed", "rss", "customer", "customers", "forum", "chat", "message", "messages", "email", "emails",
		"inbox", "webpage", "web", "website", "tweet", "tweets", "pr", "pull", "submission", "submissions", "html", "page", "pages", "news")
	privateWords = capability.Set("user", "users", "profile", "account", "accounts", "contact", "contacts", "calendar",
		"private", "internal", "credential", "credentials", "ssn", "payroll", "salary", "medical", "patient", "invoice",
		"invoices", "financial", "log", "logs", "journal", "history", "memory", "notes", "documents", "drive", "secret", "secrets")
	urlParams = capability.Set("url", "urls", "uri", "endpoint", "webhook", "link", "href", "callback")
)

// Label decides a tool's roles.
func Label(t *tooldef.Tool, p *capability.Profile) Labels {
	var l Labels
	name := capability.Words(t.Name)
	readOnly, roSet := t.Annotation("readOnlyHint")
	openWorld, owSet := t.Annotation("openWorldHint")
	verb := func(s map[string]bool) (string, bool) {
		for _, w := range name {
			if s[w] {
				return w, true
			}
		}
		return "", false
	}
	rv, reads := verb(readVerbs)
	if roSet && readOnly && !reads {
		rv, reads = "readOnlyHint", true
	}
	sv, sends := verb(sendVerbs)

	// Untrusted content.
	if f, w, ok := p.Contains(thirdParty); ok && reads {
		l.Source = fmt.Sprintf("%s %s (%s)", rv, w, f)
	} else if p.Has(report.CapNetwork) && reads {
		m, _ := p.Match(report.CapNetwork)
		l.Source = fmt.Sprintf("%s from the network (%s: %s)", rv, m.Field, m.Word)
	} else if owSet && openWorld && roSet && readOnly {
		l.Source = "reads from an open world (annotations.openWorldHint)"
	}

	// Private data.
	switch {
	case p.Has(report.CapSecrets) && !sends:
		m, _ := p.Match(report.CapSecrets)
		l.Private = fmt.Sprintf("secrets (%s: %s)", m.Field, m.Word)
	case reads && (p.Has(report.CapFilesystem) || p.Has(report.CapDatabase)):
		c := report.CapFilesystem
		if !p.Has(c) {
			c = report.CapDatabase
		}
		m, _ := p.Match(c)
		l.Private = fmt.Sprintf("%s %s (%s: %s)", rv, c, m.Field, m.Word)
	case reads:
		if f, w, ok := p.Contains(privateWords); ok {
			l.Private = fmt.Sprintf("%s %s (%s)", rv, w, f)
		}
	}

	// A way out.
	switch {
	case sends && (p.Has(report.CapMessaging) || p.Has(report.CapNetwork)):
		l.Sink = fmt.Sprintf("%s over %s", sv, map[bool]string{true: "messaging", false: "the network"}[p.Has(report.CapMessaging)])
	case p.Has(report.CapNetwork):
		for _, prm := range t.Params() {
			if prm.Depth == 0 && prm.IsString() {
				for _, w := range capability.Words(prm.Name) {
					if urlParams[w] {
						l.Sink = "requests a caller-chosen URL (" + prm.Path + "): data leaves in the URL"
						break
					}
				}
			}
		}
	case owSet && openWorld && !(roSet && readOnly) && sends:
		l.Sink = "writes to an open world (annotations.openWorldHint)"
	}
	return l
}

// Tool is one labelled tool of a client's servers.
type Tool struct {
	Server string
	Name   string
	Labels Labels
}

// maxListed bounds the tools named in one evidence line.
const maxListed = 12

// Analyze reports, for one client (group) of servers, every way out that
// untrusted input and private data can reach, and every untrusted source.
// perServer receives findings whose tools all sit on one server;
// cross-server findings are returned.
func Analyze(group string, tools []Tool) (perServer map[string][]finding.Finding, cross []finding.Finding) {
	perServer = map[string][]finding.Finding{}
	var sources, readers, sinks []Tool
	servers := map[string]bool{}
	for _, t := range tools {
		servers[t.Server] = true
		if t.Labels.Source != "" {
			sources = append(sources, t)
			perServer[t.Server] = append(perServer[t.Server], finding.Finding{
				RuleID: UntrustedContent, Category: finding.IndirectPromptInjection, Severity: finding.Low, Confidence: 0.6,
				Server: t.Server, Tool: t.Name, Title: "Tool returns third-party content to the model",
				Detail:   "Whatever a third party wrote (a web page, a ticket, an email) reaches the model as tool output and can carry instructions. Treat the output as data: spotlight or sanitize it, and keep tools that can leak data out of the same agent.",
				Evidence: []finding.Evidence{{Field: "name", Text: t.Name, Note: t.Labels.Source}},
			})
		}
		if t.Labels.Private != "" {
			readers = append(readers, t)
		}
		if t.Labels.Sink != "" {
			sinks = append(sinks, t)
		}
	}
	if len(sources) == 0 || len(readers) == 0 || len(sinks) == 0 {
		return perServer, nil
	}
	multi := len(servers) > 1
	label := func(t Tool) string {
		if multi {
			return t.Server + "/" + t.Name
		}
		return t.Name
	}
	names := func(ts []Tool) string {
		var out []string
		for _, t := range ts {
			out = append(out, label(t))
		}
		sort.Strings(out)
		if len(out) > maxListed {
			return strings.Join(out[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(out)-maxListed)
		}
		return strings.Join(out, ", ")
	}
	// What is the same for every sink is computed once: a client may have
	// thousands of tools.
	srcNames, readerNames := names(sources), names(readers)
	where := map[string]bool{}
	for _, t := range sources {
		where[t.Server] = true
	}
	for _, t := range readers {
		where[t.Server] = true
	}
	readers = byReadability(readers)
	paths := len(sources) * len(readers)
	for _, sink := range sinks {
		example := pickExample(sources, readers, sink)
		_, sinkOnly := where[sink.Server]
		oneServer := len(where) == 1 && sinkOnly
		f := finding.Finding{
			RuleID: LethalTrifecta, Category: finding.ToxicFlow, Severity: finding.High, Confidence: 0.7,
			Tool:  label(sink),
			Title: fmt.Sprintf("Lethal trifecta: untrusted input and private data can leave through %s", label(sink)),
			Detail: fmt.Sprintf("%d path(s) in %s: an instruction planted in untrusted content (%s) can make the agent read private data and send it out through %s. "+
				"Split these tools across agents, require approval for %s, or sanitize untrusted output.", paths, groupName(group), label(example[0]), label(sink), label(sink)),
			Evidence: []finding.Evidence{
				{Field: "flow.path", Text: label(example[0]) + " → " + label(example[1]) + " → " + label(sink), Note: "one of the paths"},
				{Field: "flow.untrusted_input", Text: srcNames},
				{Field: "flow.private_data", Text: readerNames},
				{Field: "flow.way_out", Text: label(sink), Note: sink.Labels.Sink},
			},
		}
		if oneServer {
			f.Server = sink.Server
			perServer[sink.Server] = append(perServer[sink.Server], f)
		} else {
			f.Server = group
			cross = append(cross, f)
		}
	}
	return perServer, cross
}

func groupName(g string) string {
	if g == "" {
		return "the scanned servers"
	}
	return g
}

// pickExample picks a readable example path: a source and a reader other
// than the sink where possible.
func pickExample(sources, readers []Tool, sink Tool) [2]Tool {
	best := [2]Tool{sources[0], readers[0]}
	// At most three candidates each: a distinct pair is always among them.
	for _, s := range sources[:min(3, len(sources))] {
		for _, r := range readers[:min(3, len(readers))] {
			if s.Name != sink.Name && r.Name != sink.Name && s.Name != r.Name {
				return [2]Tool{s, r}
			}
		}
	}
	return best
}

// byReadability puts readers of files and databases first: they make the
// clearest example path.
func byReadability(readers []Tool) []Tool {
	readers = append([]Tool(nil), readers...)
	sort.SliceStable(readers, func(i, j int) bool {
		return strings.Contains(readers[i].Labels.Private, "filesystem") && !strings.Contains(readers[j].Labels.Private, "filesystem")
	})
	return readers
}
