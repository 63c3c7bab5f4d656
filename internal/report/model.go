// Package report holds the result of an MCP security review and renders it
// as text, JSON, SARIF, HTML and Markdown.
//
// [Report] is the one model every renderer reads; the scanner produces it.
// Its JSON form is versioned by [SchemaVersion] and described by the JSON
// Schema published in docs/.
package report

import (
	"time"

	"mcpwarden/internal/finding"
)

// SchemaVersion names the version of the JSON report format. Bump it on any
// incompatible change.
const SchemaVersion = "mcpwarden.report/v1"

// Report is the outcome of one `mcpwarden scan` run.
type Report struct {
	SchemaVersion string    `json:"schema_version"`
	Tool          ToolInfo  `json:"tool"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	Servers       []Server  `json:"servers"`
	// Findings that concern several servers at once (toxic flows across a
	// client's servers, look-alike names across servers) rather than one.
	CrossServer []finding.Finding `json:"cross_server_findings"`
	// Suppressed counts findings hidden by a suppression or baseline file.
	Suppressed int `json:"suppressed"`
	// Rules describes the rules that produced the findings, so a report is
	// readable on its own and SARIF can carry full rule metadata. Optional:
	// renderers fall back to what the findings themselves say.
	Rules []Rule `json:"rules,omitempty"`
}

// Rule is the documentation of one rule ID, as docs/scan.md explains it.
type Rule struct {
	ID       string           `json:"id"`
	Category finding.Category `json:"category"`
	Severity finding.Severity `json:"severity"` // default severity
	Summary  string           `json:"summary"`  // one line
	Detail   string           `json:"detail,omitempty"`
}

// ToolInfo identifies the scanner that produced the report.
type ToolInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// RulePacks lists the embedded and user rule packs with their versions,
	// so a report says which rules it was judged by.
	RulePacks []string `json:"rule_packs,omitempty"`
}

// Status says whether a server could be reviewed. A server that could not
// be scanned is never reported as clean.
type Status string

const (
	Scanned    Status = "scanned"     // connected and listed
	Static     Status = "static"      // reviewed from a definitions dump or config only
	NotScanned Status = "not_scanned" // could not start, timed out, needs auth, ...
)

// Reviewed reports whether the status means the server was actually
// reviewed. Anything else, including a status this version does not know,
// is not scanned.
func (s Status) Reviewed() bool { return s == Scanned || s == Static }

// Server is the review of one MCP server.
type Server struct {
	Name   string `json:"name"`
	Source Source `json:"source"`
	Status Status `json:"status"`
	// Reason explains NotScanned (and notes partial scans).
	Reason string `json:"reason,omitempty"`

	Transport string   `json:"transport"` // stdio, http, sse, file
	Command   []string `json:"command,omitempty"`
	URL       string   `json:"url,omitempty"`

	Info              ServerInfo         `json:"info"`
	Tools             []Tool             `json:"tools"`
	Prompts           []Prompt           `json:"prompts"`
	Resources         []Resource         `json:"resources"`
	ResourceTemplates []ResourceTemplate `json:"resource_templates"`
	Findings          []finding.Finding  `json:"findings"`
}

// Source says where a server was declared.
type Source struct {
	Kind   string `json:"kind"`             // client-config, definitions, url, command
	Client string `json:"client,omitempty"` // e.g. "claude-desktop", "cursor"
	Path   string `json:"path,omitempty"`   // config or definitions file
	Line   int    `json:"line,omitempty"`   // 1-based line of the server's entry, 0 if unknown
}

// ServerInfo is what the server said about itself.
type ServerInfo struct {
	Name         string `json:"name,omitempty"`
	Version      string `json:"version,omitempty"`
	Protocol     string `json:"protocol,omitempty"` // negotiated revision
	Instructions string `json:"instructions,omitempty"`
}

// Capability is something a tool can touch.
type Capability string

const (
	CapFilesystem Capability = "filesystem"
	CapNetwork    Capability = "network"
	CapShell      Capability = "shell"
	CapDatabase   Capability = "database"
	CapMessaging  Capability = "messaging" // email, chat, SMS
	CapSecrets    Capability = "secrets"
	CapCodeExec   Capability = "code_exec"
)

// Capabilities lists every capability in matrix column order.
var Capabilities = []Capability{CapFilesystem, CapNetwork, CapShell, CapDatabase, CapMessaging, CapSecrets, CapCodeExec}

// Tool is one tool in the inventory.
type Tool struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Parameters names the input schema's top-level properties in schema
	// order, so the inventory can show a signature like fetch_logs(service).
	Parameters   []string       `json:"parameters,omitempty"`
	Capabilities []Capability   `json:"capabilities"`
	Annotations  map[string]any `json:"annotations,omitempty"`
	// Flow labels used by the toxic-flow analysis: "untrusted_source",
	// "private_reader", "exfil_sink".
	FlowLabels []string `json:"flow_labels,omitempty"`
}

// Prompt is one prompt in the inventory.
type Prompt struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Arguments   []string `json:"arguments,omitempty"`
}

// Resource is one listed resource.
type Resource struct {
	URI      string `json:"uri"`
	Name     string `json:"name,omitempty"`
	MIMEType string `json:"mime_type,omitempty"`
}

// ResourceTemplate is one listed resource template.
type ResourceTemplate struct {
	URITemplate string `json:"uri_template"`
	Name        string `json:"name,omitempty"`
}

// Counts tallies findings by severity over the whole report.
func (r *Report) Counts() map[finding.Severity]int {
	n := make(map[finding.Severity]int)
	for _, f := range r.AllFindings() {
		n[f.Severity]++
	}
	return n
}

// AllFindings returns every finding in the report, per-server ones first in
// server order, then cross-server ones.
func (r *Report) AllFindings() []finding.Finding {
	var all []finding.Finding
	for _, s := range r.Servers {
		all = append(all, s.Findings...)
	}
	return append(all, r.CrossServer...)
}

// Unscanned returns the servers that could not be reviewed. A server with
// an unknown or empty status counts as not scanned: only a positive
// Scanned or Static is ever taken as reviewed.
func (r *Report) Unscanned() []Server {
	var out []Server
	for _, s := range r.Servers {
		if !s.Status.Reviewed() {
			out = append(out, s)
		}
	}
	return out
}
