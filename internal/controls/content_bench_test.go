package controls

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/catalogtest"
	"mcpwarden/internal/config"
	"mcpwarden/internal/detect"
	"mcpwarden/internal/pipeline"
)

const benchTool = `{"name":"read_file","description":"Read a file from the project directory.","inputSchema":{"type":"object","properties":{"path":{"type":"string","description":"file path relative to the project"},"encoding":{"type":"string","enum":["utf-8","base64"]}},"required":["path"]},"annotations":{"readOnlyHint":true}}`

// benchConfig has every content control on, with a path_root constraint
// and the audit sinks given.
func benchConfig(b *testing.B, audit string) *config.Config {
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "project", "docs"), 0o755)
	audit = strings.ReplaceAll(audit, "./", dir+"/") // the audit log resolves paths against the working directory
	yaml := "version: 1\nservers:\n  files:\n    command: /bin/true\npolicy:\n" + audit + "  arguments:\n    tools:\n      - match: files/read_file\n        arguments:\n          path: {path_root: [./project]}\n"
	f := filepath.Join(dir, "mcpwarden.yaml")
	os.WriteFile(f, []byte(yaml), 0o644)
	cfg, err := config.Load(f)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func smallCall(cat pipeline.Catalog) *pipeline.Call {
	return &pipeline.Call{Method: "tools/call", Direction: pipeline.ToServer, Session: "s1", Server: "files", Name: "read_file",
		Params: json.RawMessage(`{"name":"files__read_file","arguments":{"path":"docs/readme.md"}}`), Catalog: cat, Start: time.Now()}
}

var smallResult = json.RawMessage(`{"content":[{"type":"text","text":"# Project\n\nBuild with make; the tests run with make test. Configuration lives in config.yaml."}]}`)

// runChain drives Request, Response and Finish of a small call, and
// reports the 50th and 99th percentile of one call's time.
func runChain(b *testing.B, ch *pipeline.Chain) {
	cat := catalogtest.New("__")
	cat.SetTool("files", "read_file", benchTool)
	ctx := context.Background()
	one := func() {
		c := smallCall(cat)
		if err := ch.Request(ctx, c); err != nil {
			b.Fatal(err)
		}
		res, err := ch.Response(ctx, c, smallResult)
		if err != nil {
			b.Fatal(err)
		}
		ch.Finish(ctx, c, res, nil)
	}
	for range 200 {
		one() // warm the caches: compiled schema, verdicts, pins
	}
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		one()
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkContentChain is the added latency of the content controls
// (tools, arguments, flows, dlp, output) on a small tools/call.
func BenchmarkContentChain(b *testing.B) {
	runChain(b, pipeline.NewChain(benchControls(b)...))
}

// benchControls builds the content controls for benchConfig; they are
// closed when the benchmark ends.
func benchControls(b *testing.B) []pipeline.Interceptor {
	eng, err := detect.New(detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ics, closers, err := contentControls(benchConfig(b, ""), eng, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, c := range closers {
			c()
		}
	})
	return ics
}

// BenchmarkEveryControl is the whole chain controls.Build makes, with the
// audit log on each sink.
func BenchmarkEveryControl(b *testing.B) {
	for _, tc := range []struct{ name, audit string }{
		{"audit=jsonl", "  audit:\n    sinks: {sqlite: \"off\", jsonl: ./audit.jsonl}\n"},
		{"audit=sqlite", "  audit:\n    sinks: {sqlite: ./audit.db}\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := benchConfig(b, tc.audit)
			f := false
			cfg.Policy.Log.Messages = &f
			set, err := Build(context.Background(), cfg, Deps{})
			if err != nil {
				b.Fatal(err)
			}
			defer set.Close()
			runChain(b, set.Chain)
		})
	}
}

// BenchmarkEachControl is the per-call cost of each content control
// alone.
func BenchmarkEachControl(b *testing.B) {
	for _, ic := range benchControls(b) {
		b.Run(ic.Name(), func(b *testing.B) {
			runChain(b, pipeline.NewChain(ic))
		})
	}
}
