package scan

import (
	"slices"

	"mcpwarden/internal/authcheck"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/posture"
	"mcpwarden/internal/report"
	"mcpwarden/internal/schemareview"
	"mcpwarden/internal/shadow"
	"mcpwarden/internal/suppress"
	"mcpwarden/internal/toxicflow"
)

// Rule IDs of the scan itself. They are stable and never reused.
const (
	UnreadableDefinition = "scan.unreadable_definition"
	PartialListing       = "scan.partial_listing"

	RugToolChanged       = "rug_pull.tool_changed"
	RugToolAdded         = "rug_pull.tool_added"
	RugToolRemoved       = "rug_pull.tool_removed"
	RugPromptChanged     = "rug_pull.prompt_changed"
	RugTemplateChanged   = "rug_pull.resource_template_changed"
	RugInstructions      = "rug_pull.instructions_changed"
	RugIdentity          = "rug_pull.identity_changed"
	RugNotPinned         = "rug_pull.not_pinned"
	RugChangedDuringScan = "rug_pull.changed_during_scan"
)

var ownRules = []report.Rule{
	{ID: UnreadableDefinition, Category: finding.Hygiene, Severity: finding.Medium, Summary: "a definition could not be read or inspected"},
	{ID: PartialListing, Category: finding.Hygiene, Severity: finding.Low, Summary: "part of the server's listing failed"},
	{ID: RugToolChanged, Category: finding.RugPull, Severity: finding.High, Summary: "a pinned tool changed"},
	{ID: RugToolAdded, Category: finding.RugPull, Severity: finding.Medium, Summary: "a tool appeared since pinning"},
	{ID: RugToolRemoved, Category: finding.RugPull, Severity: finding.Low, Summary: "a pinned tool is gone"},
	{ID: RugPromptChanged, Category: finding.RugPull, Severity: finding.Medium, Summary: "a prompt changed since pinning"},
	{ID: RugTemplateChanged, Category: finding.RugPull, Severity: finding.Medium, Summary: "a resource template changed since pinning"},
	{ID: RugInstructions, Category: finding.RugPull, Severity: finding.High, Summary: "the server instructions changed since pinning"},
	{ID: RugIdentity, Category: finding.RugPull, Severity: finding.Medium, Summary: "a different version or binary runs than was pinned"},
	{ID: RugNotPinned, Category: finding.RugPull, Severity: finding.Low, Summary: "the server is not in the lockfile"},
	{ID: RugChangedDuringScan, Category: finding.RugPull, Severity: finding.High, Summary: "the definitions changed between two listings"},
}

// Rules lists every rule the scan itself can emit, without the detection
// engine's: the launch-posture rules, the analyses' and the scan's own,
// sorted by ID.
func Rules() []report.Rule {
	var out []report.Rule
	for _, r := range posture.Rules() {
		out = append(out, report.Rule{ID: r.ID, Category: r.Category, Severity: r.Severity, Summary: r.Title})
	}
	out = append(out, schemareview.Rules()...)
	out = append(out, toxicflow.Rules()...)
	out = append(out, shadow.Rules()...)
	out = append(out, authcheck.Rules()...)
	out = append(out, suppress.Rules()...)
	out = append(out, ownRules...)
	slices.SortFunc(out, func(a, b report.Rule) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func ruleDefault(id string) report.Rule {
	for _, r := range ownRules {
		if r.ID == id {
			return r
		}
	}
	panic("scan: unknown rule " + id) // programmer error: IDs are constants
}
