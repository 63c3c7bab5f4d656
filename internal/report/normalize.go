package report

import (
	"cmp"
	"fmt"
	"slices"

	"mcpwarden/internal/finding"
)

// normalized returns a copy of r in canonical order, so that every format
// renders the same report identically however the scanner's goroutines
// happened to finish. The input is not modified. Nil lists become empty
// ones so the JSON form never holds null where an array is expected.
func normalized(r *Report) *Report {
	c := *r
	c.SchemaVersion = SchemaVersion
	c.Tool.RulePacks = sortedCopy(r.Tool.RulePacks)
	c.Servers = make([]Server, len(r.Servers))
	for i, s := range r.Servers {
		c.Servers[i] = normalizedServer(s)
	}
	slices.SortStableFunc(c.Servers, func(a, b Server) int {
		return cmp.Or(
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Source.Path, b.Source.Path),
			cmp.Compare(a.Source.Line, b.Source.Line),
		)
	})
	c.CrossServer = sortedFindings(r.CrossServer)
	c.Rules = slices.Clone(r.Rules)
	slices.SortStableFunc(c.Rules, func(a, b Rule) int { return cmp.Compare(a.ID, b.ID) })
	return &c
}

func normalizedServer(s Server) Server {
	if !s.Status.Reviewed() && s.Status != NotScanned {
		// A status this version does not know is not a review.
		note := fmt.Sprintf("unknown status %q", s.Status)
		if s.Reason != "" {
			note += ": " + s.Reason
		}
		s.Status, s.Reason = NotScanned, note
	}
	s.Command = nonNil(slices.Clone(s.Command))
	s.Tools = nonNil(slices.Clone(s.Tools))
	for i := range s.Tools {
		t := &s.Tools[i]
		t.Capabilities = sortedCapabilities(t.Capabilities)
		t.FlowLabels = sortedCopy(t.FlowLabels)
		t.Parameters = slices.Clone(t.Parameters) // schema order is meaningful
	}
	slices.SortStableFunc(s.Tools, func(a, b Tool) int { return cmp.Compare(a.Name, b.Name) })
	s.Prompts = nonNil(slices.Clone(s.Prompts))
	slices.SortStableFunc(s.Prompts, func(a, b Prompt) int { return cmp.Compare(a.Name, b.Name) })
	s.Resources = nonNil(slices.Clone(s.Resources))
	slices.SortStableFunc(s.Resources, func(a, b Resource) int { return cmp.Compare(a.URI, b.URI) })
	s.ResourceTemplates = nonNil(slices.Clone(s.ResourceTemplates))
	slices.SortStableFunc(s.ResourceTemplates, func(a, b ResourceTemplate) int { return cmp.Compare(a.URITemplate, b.URITemplate) })
	s.Findings = sortedFindings(s.Findings)
	return s
}

// sortedFindings orders findings most severe first, then by category in
// report order, rule, server, tool and evidence, so ties are stable.
func sortedFindings(fs []finding.Finding) []finding.Finding {
	out := nonNil(slices.Clone(fs))
	slices.SortStableFunc(out, compareFindings)
	return out
}

func compareFindings(a, b finding.Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(categoryRank(a.Category), categoryRank(b.Category)),
		cmp.Compare(a.RuleID, b.RuleID),
		cmp.Compare(a.Server, b.Server),
		cmp.Compare(a.Tool, b.Tool),
		cmp.Compare(firstField(a), firstField(b)),
		cmp.Compare(a.Title, b.Title),
	)
}

func categoryRank(c finding.Category) int {
	if i := slices.Index(finding.Categories, c); i >= 0 {
		return i
	}
	return len(finding.Categories)
}

func firstField(f finding.Finding) string {
	if len(f.Evidence) == 0 {
		return ""
	}
	return f.Evidence[0].Field
}

// sortedCapabilities returns caps deduplicated in matrix column order, with
// unknown capabilities after the known ones.
func sortedCapabilities(caps []Capability) []Capability {
	out := make([]Capability, 0, len(caps))
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	rank := func(c Capability) int {
		if i := slices.Index(Capabilities, c); i >= 0 {
			return i
		}
		return len(Capabilities)
	}
	slices.SortStableFunc(out, func(a, b Capability) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
	})
	return out
}

func sortedCopy(s []string) []string {
	if s == nil {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// hasCapability reports whether t is classified as touching c.
func (t Tool) hasCapability(c Capability) bool { return slices.Contains(t.Capabilities, c) }

// severities lists severities most severe first, the order summaries use.
var severities = []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info}

// statusCounts tallies servers by status.
func (r *Report) statusCounts() (scanned, static, notScanned int) {
	for _, s := range r.Servers {
		switch s.Status {
		case Scanned:
			scanned++
		case Static:
			static++
		default:
			// Anything not positively reviewed counts as not scanned: an
			// unknown status must never read as clean.
			notScanned++
		}
	}
	return scanned, static, notScanned
}

// validate rejects reports no renderer can represent faithfully: a
// severity, category or capability outside the vocabulary is a scanner
// bug, and guessing would misreport it.
func validate(r *Report) error {
	for _, s := range r.Servers {
		for _, t := range s.Tools {
			for _, c := range t.Capabilities {
				if !slices.Contains(Capabilities, c) {
					return fmt.Errorf("server %q tool %q: unknown capability %q", s.Name, t.Name, c)
				}
			}
		}
	}
	for _, f := range r.AllFindings() {
		if int(f.Severity) >= len(severities) {
			return fmt.Errorf("finding %s: invalid severity %d", f.RuleID, f.Severity)
		}
		if !f.Category.Valid() {
			return fmt.Errorf("finding %s: unknown category %q", f.RuleID, f.Category)
		}
	}
	return nil
}
