// Package finding is the vocabulary shared by the detection engine, the
// scanner and the reports: categories, severities and the Finding record.
//
// Rule IDs are stable, dotted and lower-case ("poison.override",
// "ssrf.any_url") and are never reused for a different meaning.
package finding

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Category groups findings. The first seven are the MCP vulnerability
// classes mcpwarden exists to find; the rest are hygiene categories.
type Category string

const (
	ToolPoisoning           Category = "tool_poisoning"
	CommandInjection        Category = "command_injection"
	SSRF                    Category = "ssrf"
	PathTraversal           Category = "path_traversal"
	SecretExfiltration      Category = "secret_exfiltration"
	IndirectPromptInjection Category = "indirect_prompt_injection"
	AuthorizationBypass     Category = "authorization_bypass"
	RugPull                 Category = "rug_pull"
	SupplyChain             Category = "supply_chain"
	Transport               Category = "transport"
	ToxicFlow               Category = "toxic_flow"
	InputValidation         Category = "input_validation"
	Hygiene                 Category = "hygiene"
)

// Categories lists every category in report order.
var Categories = []Category{
	ToolPoisoning, CommandInjection, SSRF, PathTraversal, SecretExfiltration,
	IndirectPromptInjection, AuthorizationBypass, RugPull, SupplyChain,
	Transport, ToxicFlow, InputValidation, Hygiene,
}

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// Severity orders findings by how urgently they need attention.
type Severity uint8

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", s)
}

// ParseSeverity parses a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Span locates evidence in the original (un-normalized) text of a field,
// as byte offsets.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Evidence is one piece of proof for a finding.
type Evidence struct {
	// Field names where the evidence was found, as a path: "description",
	// "inputSchema.properties.path.description", "instructions",
	// "result.content[0].text", "config.env.API_KEY".
	Field string `json:"field,omitempty"`
	Span  *Span  `json:"span,omitempty"`
	// Text is the matched text, quoted from the original and truncated;
	// secrets are redacted before they are put here.
	Text string `json:"text,omitempty"`
	// Note explains what the evidence shows when Text alone does not.
	Note string `json:"note,omitempty"`
	// Previous is the earlier value of Field when the finding is a change
	// (a lockfile diff: Previous is the pinned text, Text the current one).
	Previous string `json:"previous,omitempty"`
}

// Finding is one reported problem.
type Finding struct {
	RuleID     string     `json:"rule_id"`
	Category   Category   `json:"category"`
	Severity   Severity   `json:"severity"`
	Confidence float64    `json:"confidence"` // 0..1
	Server     string     `json:"server,omitempty"`
	Tool       string     `json:"tool,omitempty"` // tool, prompt or resource the finding is about
	Title      string     `json:"title"`          // one line
	Detail     string     `json:"detail"`         // why it matters and what to do
	Evidence   []Evidence `json:"evidence"`
}

// String is a one-line rendering for logs and tests.
func (f Finding) String() string {
	where := f.Server
	if f.Tool != "" {
		where += "/" + f.Tool
	}
	return fmt.Sprintf("%s %s [%s] %s: %s", f.Severity, f.RuleID, f.Category, where, f.Title)
}

// MarshalJSON guarantees evidence is an array, never null, so consumers of
// the JSON report need no null checks.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	p := plain(f)
	if p.Evidence == nil {
		p.Evidence = []Evidence{}
	}
	return json.Marshal(p)
}
