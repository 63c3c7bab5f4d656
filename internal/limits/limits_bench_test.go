package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"mcpwarden/internal/confval"
	"mcpwarden/internal/pipeline"
)

func benchInterceptor(b *testing.B) *Interceptor {
	ic, err := New(Options{Config: Config{
		MaxArgumentBytes: 256 << 10, MaxResultBytes: 4 << 20,
		Rate: []RateLimit{
			{ID: "per-caller", Per: []string{PerCaller}, Rate: Rate{1_000_000, time.Second}},
			{ID: "per-tool", Per: []string{PerCaller, PerTool}, Tools: []string{"fs/*"}, Rate: Rate{1_000_000, time.Second}},
		},
		Tools: []ToolLimits{{Match: "fs/read_*", Timeout: confval.Duration(5 * time.Second)}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	return ic
}

// BenchmarkRequest is the per-call cost of the limits interceptor for a
// small tools/call: two rate limits, the argument size and a timeout
// (Request), and the result size (Response).
// Run: go test -run=^$ -bench=. -benchmem ./internal/limits
func BenchmarkRequest(b *testing.B) {
	ic := benchInterceptor(b)
	ctx := context.Background()
	params := json.RawMessage(`{"name":"fs__read_file","arguments":{"path":"/home/alice/notes.txt"}}`)
	res := json.RawMessage(`{"content":[{"type":"text","text":"hello"}]}`)
	// Many callers, so that no bucket runs dry however fast the loop is.
	ids := make([]pipeline.Identity, 1024)
	for i := range ids {
		ids[i] = pipeline.Identity{Subject: fmt.Sprint("caller-", i), Method: "jwt"}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c := &pipeline.Call{Caller: ids[i%len(ids)], Direction: pipeline.ToServer, Method: "tools/call", Server: "fs", Name: "read_file", Params: params}
		if v, _ := ic.Request(ctx, c); v.Deny {
			b.Fatal(v)
		}
		if _, v, _ := ic.ResultGuard().Response(ctx, c, res); v.Deny {
			b.Fatal(v)
		}
	}
}

// BenchmarkRequestParallel has many callers at once, each with its own
// buckets, as on a busy team gateway.
func BenchmarkRequestParallel(b *testing.B) {
	ic := benchInterceptor(b)
	ctx := context.Background()
	params := json.RawMessage(`{"name":"fs__read_file","arguments":{"path":"/home/alice/notes.txt"}}`)
	b.ReportAllocs()
	b.SetParallelism(8)
	var n atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		g := n.Add(1)
		ids := make([]pipeline.Identity, 1024)
		for i := range ids {
			ids[i] = pipeline.Identity{Subject: fmt.Sprint("caller-", g, "-", i), Method: "jwt"}
		}
		i := 0
		for pb.Next() {
			i++
			c := &pipeline.Call{Caller: ids[i%len(ids)], Direction: pipeline.ToServer, Method: "tools/call", Server: "fs", Name: "read_file", Params: params}
			if v, _ := ic.Request(ctx, c); v.Deny {
				b.Fatal(v)
			}
		}
	})
}
