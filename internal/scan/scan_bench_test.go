package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDefinitions writes n realistic tool definitions as JSONL.
func writeDefinitions(tb testing.TB, n int) string {
	tb.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"name":"tool_%d_read_file","title":"Tool %d","description":"Read a file from the project workspace and return its text. Use it when the user asks about file %d; it never writes anything.","inputSchema":{"type":"object","properties":{"path":{"type":"string","description":"path relative to the workspace"},"encoding":{"type":"string","enum":["utf-8","latin1"]},"max_bytes":{"type":"integer"},"url":{"type":"string","format":"uri"}},"required":["path"],"additionalProperties":false},"annotations":{"readOnlyHint":true}}`+"\n", i, i, i)
	}
	p := filepath.Join(tb.TempDir(), "big.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkStatic10k reviews a definitions file of 10,000 tools: parse,
// the detection engine over every field, classification, schema review,
// flow labels and the cross-server analyses; and the same without the
// engine.
func BenchmarkStatic10k(b *testing.B) {
	p := writeDefinitions(b, 10000)
	t := Target{Kind: Definitions, Name: "big", Group: CommandLine, Path: p}
	for _, bc := range []struct {
		name string
		insp Inspector
	}{{"engine", Engine(testEngine(b))}, {"no-engine", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Run(context.Background(), []Target{t}, Options{Inspector: bc.insp})
				if err != nil || len(res.Report.Servers[0].Tools) != 10000 {
					b.Fatalf("scan: %v", err)
				}
			}
		})
	}
}

func TestStatic10kTools(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short")
	}
	p := writeDefinitions(t, 10000)
	res := run(t, Options{Inspector: Engine(testEngine(t))}, Target{Kind: Definitions, Name: "big", Group: CommandLine, Path: p})
	s := res.Report.Servers[0]
	if s.Status != "static" || len(s.Tools) != 10000 {
		t.Fatalf("status %s with %d tools, want static with 10000", s.Status, len(s.Tools))
	}
	paths := 0
	for _, f := range s.Findings {
		if f.RuleID == "schema.unconstrained_path" {
			paths++
		}
	}
	if paths != 10000 {
		t.Errorf("%d unconstrained-path findings, want one per tool", paths)
	}
}
