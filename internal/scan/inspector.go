package scan

import (
	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
)

// Inspector is the detection engine as the scan uses it: it inspects
// every text field of MCP definitions, nested schema text included, for
// tool poisoning, hidden characters and embedded secrets. An error means
// the definition could not be inspected; the scan reports that, never a
// clean tool. Implementations must be safe for concurrent use.
type Inspector interface {
	InspectTool(raw []byte) ([]finding.Finding, error)
	InspectPrompt(raw []byte) ([]finding.Finding, error)
	InspectResource(raw []byte) ([]finding.Finding, error)
	InspectInstructions(text string) []finding.Finding
}

// RuleLister is an optional interface of an [Inspector]: the rules it can
// emit and the rule packs it loaded, for the report's rule list and
// docs.
type RuleLister interface {
	Rules() []report.Rule
	Packs() []string
}
