package scan

import (
	"mcpwarden/internal/detect"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
)

// Engine adapts the detection engine to [Inspector]. A verdict's
// findings are reported when the verdict is flagged (its combined score
// reaches the engine's threshold); below it, only strong signals on their
// own (high severity, confidence at least the threshold) are kept, so a
// lone weak word never becomes a finding.
func Engine(e *detect.Engine) Inspector { return engine{e} }

type engine struct{ e *detect.Engine }

func (x engine) keep(v detect.Verdict) []finding.Finding {
	if v.Flagged {
		return v.Findings
	}
	var out []finding.Finding
	for _, f := range v.Findings {
		if f.Severity >= finding.High && f.Confidence >= x.e.Threshold() {
			out = append(out, f)
		}
	}
	return out
}

func (x engine) InspectTool(raw []byte) ([]finding.Finding, error) {
	v, err := x.e.InspectTool(raw)
	return x.keep(v), err
}

func (x engine) InspectPrompt(raw []byte) ([]finding.Finding, error) {
	v, err := x.e.InspectPrompt(raw)
	return x.keep(v), err
}

func (x engine) InspectResource(raw []byte) ([]finding.Finding, error) {
	v, err := x.e.InspectResource(raw)
	return x.keep(v), err
}

func (x engine) InspectInstructions(text string) []finding.Finding {
	return x.keep(x.e.InspectInstructions(text))
}

// Rules implements [RuleLister]: the engine's rules as they apply to
// definitions.
func (x engine) Rules() []report.Rule { return EngineRules(x.e) }

// Packs implements [RuleLister].
func (x engine) Packs() []string { return x.e.Packs() }

// EngineRules lists the detection engine's rules with the category they
// have in descriptions (what the scan inspects), for the report and docs.
func EngineRules(e *detect.Engine) []report.Rule {
	var out []report.Rule
	for _, r := range e.Rules() {
		cat := r.Category["description"]
		if cat == "" {
			for _, k := range []string{"result", "argument"} {
				if c := r.Category[k]; c != "" {
					cat = c
					break
				}
			}
		}
		if cat == "" {
			cat = finding.ToolPoisoning
		}
		out = append(out, report.Rule{ID: r.ID, Category: cat, Severity: r.Severity, Summary: r.Title})
	}
	return out
}

var _ RuleLister = engine{}
