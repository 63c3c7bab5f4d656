package report

import (
	"fmt"
	"io"
	"testing"

	"mcpwarden/internal/finding"
)

// bigReport is a definitions-file scan at the scale the scanner must
// handle: 10,000 tools and a finding for every tenth.
func bigReport() *Report {
	s := Server{Name: "big", Status: Static, Transport: "file", Source: Source{Kind: "definitions", Path: "big.json"}}
	for i := range 10000 {
		name := fmt.Sprintf("tool_%05d", i)
		s.Tools = append(s.Tools, Tool{Name: name, Description: "Does thing number " + name + " with a path.", Parameters: []string{"path"},
			Capabilities: []Capability{Capabilities[i%len(Capabilities)]}})
		if i%10 == 0 {
			s.Findings = append(s.Findings, finding.Finding{RuleID: "input.unconstrained_path", Category: finding.InputValidation,
				Severity: finding.Severity(i % 5), Server: "big", Tool: name, Title: "Path parameter has no pattern",
				Evidence: []finding.Evidence{{Field: "inputSchema.properties.path", Text: "string"}}})
		}
	}
	return &Report{Servers: []Server{s}}
}

func BenchmarkRender(b *testing.B) {
	for _, size := range []struct {
		name string
		r    *Report
	}{{"fixture", fixture()}, {"10k-tools", bigReport()}} {
		for _, format := range Formats() {
			b.Run(size.name+"/"+format, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := Render(io.Discard, size.r, format, RenderOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
