package audit

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"mcpwarden/internal/pipeline"
)

type nullSink struct{}

func (nullSink) Name() string                         { return "null" }
func (nullSink) Close() error                         { return nil }
func (nullSink) Write(context.Context, *Record) error { return nil }

// BenchmarkInterceptor measures the per-call cost of the audit interceptor
// (Request + Finish, two records) for a small tools/call: with a sink that
// discards (the cost of building and redacting records), and with SQLite,
// one call at a time (the latency a call pays) and many at once.
// Run: go test -run=^$ -bench=Interceptor ./internal/audit
func BenchmarkInterceptor(b *testing.B) {
	ctx := context.Background()
	res := json.RawMessage(`{"content":[{"type":"text","text":"hello world"}]}`)
	run := func(b *testing.B, l *Log, parallel bool) {
		ch := pipeline.NewChain(l)
		call := func() {
			c := testCall()
			if err := ch.Request(ctx, c); err != nil {
				b.Fatal(err)
			}
			ch.Finish(ctx, c, res, nil)
		}
		b.ReportAllocs()
		b.ResetTimer()
		if !parallel {
			for b.Loop() {
				call()
			}
			return
		}
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call()
			}
		})
	}
	b.Run("sink=null", func(b *testing.B) {
		l, err := New(ctx, Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff}}, ExtraSinks: []Sink{nullSink{}}})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		run(b, l, false)
	})
	b.Run("sink=jsonl/sync=normal/serial", func(b *testing.B) {
		l, err := New(ctx, Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff, JSONL: filepath.Join(b.TempDir(), "a.jsonl")}}})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		run(b, l, false)
	})
	for _, policy := range []SyncPolicy{SyncNormal, SyncFull} {
		for _, parallel := range []bool{false, true} {
			name := "sink=sqlite/sync=" + string(policy) + "/serial"
			if parallel {
				name = "sink=sqlite/sync=" + string(policy) + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				l, err := New(ctx, Options{Config: Config{Sync: policy, Sinks: SinksConfig{SQLite: filepath.Join(b.TempDir(), "a.db")}}})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				run(b, l, parallel)
			})
		}
	}
}

// BenchmarkBuiltinRedactor measures the fallback redactor on arguments
// without secrets (the common case) and with one.
func BenchmarkBuiltinRedactor(b *testing.B) {
	for name, in := range map[string]string{
		"clean":  `{"name":"read_file","arguments":{"path":"/home/alice/project/README.md"}}`,
		"secret": `{"name":"send_email","arguments":{"to":"x@example.com","body":"key AKIAIOSFODNN7EXAMPLE","api_key":"abc123def"}}`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				BuiltinRedactor{}.Redact(in)
			}
		})
	}
}
