// Package schemareview reviews the input schemas of MCP tools for weak
// argument validation: free-form strings where the parameter is a shell
// command, code, a path, a URL or a database query; schemas that accept
// any extra property; and free-text parameters that look like channels
// for exfiltrating data.
//
// A free-form string is one with no enum, const or pattern: maxLength
// alone bounds the size, not what a value can smuggle (";", "../",
// "http://169.254.169.254"). Findings point at the parameter
// ("inputSchema.properties.path") and say what is missing.
//
//	fs := schemareview.Review("server", &tool, &profile)
package schemareview

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
	UnconstrainedCommand = "schema.unconstrained_command"
	UnconstrainedCode    = "schema.unconstrained_code"
	UnconstrainedPath    = "schema.unconstrained_path"
	UnconstrainedURL     = "schema.unconstrained_url"
	UnconstrainedQuery   = "schema.unconstrained_query"
	ExfilChannel         = "schema.exfil_channel"
	OpenProperties       = "schema.open_additional_properties"
	MissingSchema        = "schema.missing_input_schema"
)

// Rules documents the rules of this package.
func Rules() []report.Rule {
	return []report.Rule{
		{ID: UnconstrainedCommand, Category: finding.CommandInjection, Severity: finding.High, Summary: "a free-form string reaches a shell command"},
		{ID: UnconstrainedCode, Category: finding.CommandInjection, Severity: finding.High, Summary: "a free-form string is code the tool runs"},
		{ID: UnconstrainedPath, Category: finding.PathTraversal, Severity: finding.Medium, Summary: "a path parameter has no pattern or enum"},
		{ID: UnconstrainedURL, Category: finding.SSRF, Severity: finding.Medium, Summary: "a URL parameter accepts any destination"},
		{ID: UnconstrainedQuery, Category: finding.CommandInjection, Severity: finding.Medium, Summary: "a free-form database query parameter"},
		{ID: ExfilChannel, Category: finding.SecretExfiltration, Severity: finding.Medium, Summary: "a free-text parameter the tool has no use for"},
		{ID: OpenProperties, Category: finding.InputValidation, Severity: finding.Low, Summary: "the input schema accepts undeclared properties"},
		{ID: MissingSchema, Category: finding.InputValidation, Severity: finding.Low, Summary: "the tool has no input schema"},
	}
}

// kind is a risky role a string parameter can play.
type kind struct {
	rule     string
	cat      finding.Category
	sev      finding.Severity
	what     string
	names    map[string]bool // parameter name words
	needsCap report.Capability
}

var kinds = []kind{
	{UnconstrainedCommand, finding.CommandInjection, finding.High, "a shell command or its arguments",
		capability.Set("command", "commands", "cmd", "shell", "args", "argv", "exec", "cli", "commandline"), ""},
	{UnconstrainedCode, finding.CommandInjection, finding.High, "code the tool runs",
		capability.Set("code", "script", "expression", "expr", "eval", "snippet", "python", "javascript", "js"), ""},
	{UnconstrainedQuery, finding.CommandInjection, finding.Medium, "a database query",
		capability.Set("query", "sql", "statement", "where", "filter", "cypher", "q"), report.CapDatabase},
	{UnconstrainedURL, finding.SSRF, finding.Medium, "a URL the server requests",
		capability.Set("url", "urls", "uri", "uris", "link", "href", "endpoint", "webhook", "callback", "host", "hostname", "domain"), ""},
	{UnconstrainedPath, finding.PathTraversal, finding.Medium, "a filesystem path",
		capability.Set("path", "paths", "file", "files", "filename", "filepath", "dir", "directory", "folder", "dest", "destination", "src", "root", "location"), ""},
}

// sideChannels are parameter names (lower case, separators dropped)
// that carry free text a tool rarely needs: the classic place to hide
// exfiltrated data ("pass the key as sidenote").
var sideChannels = map[string]bool{
	"sidenote": true, "sidenotes": true, "context": true, "extra": true, "extrainfo": true, "extradata": true,
	"extracontext": true, "metadata": true, "meta": true, "feedback": true, "debug": true, "debuginfo": true,
	"reasoning": true, "thought": true, "thoughts": true, "trace": true, "telemetry": true, "analytics": true,
	"hidden": true, "internal": true, "additionalinfo": true, "additionalcontext": true, "additionalnotes": true,
	"additionaldata": true, "sessiondata": true, "conversation": true, "history": true, "chathistory": true,
	"usercontext": true, "remarks": true, "memo": true, "note": true, "notes": true,
}

// Review checks one tool's input schema. p is the tool's capability
// profile from [capability.Classify].
func Review(server string, t *tooldef.Tool, p *capability.Profile) []finding.Finding {
	r := reviewer{server: server, t: t, p: p}
	if !t.HasInputSchema || t.InputSchema == nil {
		r.add(MissingSchema, finding.InputValidation, finding.Low, 1, "Tool "+t.Name+" has no input schema",
			"MCP requires an inputSchema object. Without one a client cannot validate arguments, and anything the model produces reaches the server.",
			finding.Evidence{Field: "inputSchema", Note: "missing or not an object"})
		return r.out
	}
	r.properties()
	for _, prm := range t.Params() {
		r.param(prm)
	}
	return r.out
}

type reviewer struct {
	server string
	t      *tooldef.Tool
	p      *capability.Profile
	out    []finding.Finding
}

func (r *reviewer) add(rule string, cat finding.Category, sev finding.Severity, conf float64, title, detail string, ev ...finding.Evidence) {
	r.out = append(r.out, finding.Finding{RuleID: rule, Category: cat, Severity: sev, Confidence: conf,
		Server: r.server, Tool: r.t.Name, Title: title, Detail: detail, Evidence: ev})
}

func (r *reviewer) properties() {
	ap, set := r.t.InputSchema["additionalProperties"]
	if set && ap != false {
		r.add(OpenProperties, finding.InputValidation, finding.Low, 0.9, "Input schema allows additional properties",
			"The schema explicitly accepts undeclared arguments, which a server may pass on unchecked (extra flags, options, fields). Declare every parameter and set \"additionalProperties\": false.",
			finding.Evidence{Field: "inputSchema.additionalProperties", Text: render(ap)})
	}
}

// OpenSchemas reports, once per server, the tools whose input schema has
// properties but leaves additionalProperties unset (JSON Schema then
// accepts anything): common, worth closing, not worth a finding per tool.
func OpenSchemas(server string, tools []tooldef.Tool) []finding.Finding {
	var names []string
	for i := range tools {
		s := tools[i].InputSchema
		props, _ := s["properties"].(map[string]any)
		if _, set := s["additionalProperties"]; !set && len(props) > 0 {
			names = append(names, tools[i].Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	listed := names
	if len(listed) > 20 {
		listed = append(listed[:20:20], fmt.Sprintf("and %d more", len(names)-20))
	}
	return []finding.Finding{{RuleID: OpenProperties, Category: finding.InputValidation, Severity: finding.Info, Confidence: 0.5,
		Server: server, Title: fmt.Sprintf("%d of %d tools leave additionalProperties unset", len(names), len(tools)),
		Detail:   "Without \"additionalProperties\": false an input schema accepts undeclared arguments, which a server may pass on unchecked. Close the schemas.",
		Evidence: []finding.Evidence{{Field: "inputSchema.additionalProperties", Text: strings.Join(listed, ", "), Note: "not set"}}}}
}

func render(v any) string {
	switch v := v.(type) {
	case bool:
		return fmt.Sprint(v)
	case map[string]any:
		if len(v) == 0 {
			return "{}"
		}
		return "a schema"
	}
	return fmt.Sprintf("%v", v)
}

// constraint says how a string parameter's values are limited.
func constraint(s map[string]any) (constrained bool, missing string) {
	for _, k := range []string{"enum", "const", "pattern"} {
		if _, ok := s[k]; ok {
			return true, ""
		}
	}
	if _, ok := s["maxLength"]; ok {
		return false, "no pattern or enum (maxLength bounds the size, not the content)"
	}
	return false, "no pattern, enum or maxLength"
}

func (r *reviewer) param(prm tooldef.Param) {
	schema := prm.Schema
	if items, ok := prm.ItemSchema(); ok {
		schema = items
	} else if !prm.IsString() {
		return
	}
	if t, _ := schema["type"].(string); t != "" && t != "string" {
		return
	}
	constrained, missing := constraint(schema)
	if constrained {
		return
	}
	words := capability.Words(prm.Name)
	for _, k := range kinds {
		if k.needsCap != "" && !r.p.Has(k.needsCap) {
			continue
		}
		if w, ok := anyIn(words, k.names); ok {
			conf := 0.8
			if k.rule == UnconstrainedURL && !r.p.Has(report.CapNetwork) {
				conf = 0.6
			}
			r.add(k.rule, k.cat, k.sev, conf,
				fmt.Sprintf("Parameter %q is %s with no constraint", prm.Name, k.what),
				detail(k.rule),
				finding.Evidence{Field: prm.Path, Text: prm.Name, Note: missing + "; the name says " + w})
			return
		}
		if k.rule == UnconstrainedURL && schema["format"] == "uri" {
			r.add(k.rule, k.cat, k.sev, 0.7, fmt.Sprintf("Parameter %q is a URL with no constraint on its destination", prm.Name), detail(k.rule),
				finding.Evidence{Field: prm.Path, Text: prm.Name, Note: `format "uri" checks the syntax only; ` + missing})
			return
		}
	}
	// A shell tool's free-form strings may be spliced into its command
	// line whatever they are called (fetch_logs(service) running
	// "journalctl -u " + service).
	if m, ok := r.p.Match(report.CapShell); ok && prm.Depth == 0 {
		r.add(UnconstrainedCommand, finding.CommandInjection, finding.High, 0.6,
			fmt.Sprintf("Parameter %q of a tool that runs commands has no constraint", prm.Name), detail(UnconstrainedCommand),
			finding.Evidence{Field: prm.Path, Text: prm.Name, Note: missing},
			finding.Evidence{Field: m.Field, Text: m.Word, Note: "the tool runs commands"})
		return
	}
	sq := squash(prm.Name)
	if sideChannels[sq] && !strings.Contains(squash(r.t.Name+r.t.Title), strings.TrimSuffix(sq, "s")) {
		r.add(ExfilChannel, finding.SecretExfiltration, finding.Medium, 0.6,
			fmt.Sprintf("Free-text parameter %q looks like a side channel", prm.Name),
			"A free-text parameter that the tool's purpose does not explain is where a poisoned description asks the model to put files, keys or the conversation. Remove it or constrain it.",
			finding.Evidence{Field: prm.Path, Text: prm.Name, Note: "free-form string unrelated to the tool's name (" + r.t.Name + ")"})
	}
}

func detail(rule string) string {
	switch rule {
	case UnconstrainedCommand:
		return "A value built into a command line is parsed again by the shell: \";\", \"|\", \"$( )\" and backticks in it run extra commands. Accept an enum or a strict pattern (for example ^[A-Za-z0-9_.@-]+$) and pass arguments as a list, never through sh -c."
	case UnconstrainedCode:
		return "Whoever controls the argument runs code with the server's privileges; a prompt injection reaching the agent controls it. Run such tools only in a sandbox, behind approval."
	case UnconstrainedQuery:
		return "A free-form query reaches the database as written: any table, any statement. Offer parameterised operations, or a read-only connection and an allowlist of statements."
	case UnconstrainedURL:
		return "A server that fetches any URL reaches what the agent cannot: loopback services, the private network, the cloud metadata endpoint (169.254.169.254). Restrict the scheme and host with a pattern or enum, and check resolved addresses in the server."
	case UnconstrainedPath:
		return "A path without a pattern accepts \"../\" and absolute paths. Unless the server resolves and jails every path (symlinks included), the agent can read or write outside the intended directory."
	}
	return ""
}

func anyIn(words []string, s map[string]bool) (string, bool) {
	for _, w := range words {
		if s[w] {
			return w, true
		}
	}
	return "", false
}

// squash lower-cases a name and drops separators, so that side_note,
// sideNote and side-note compare equal.
func squash(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r != '_' && r != '-' && r != ' ' && r != '.' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
