package controls

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"mcpwarden/internal/access"
	"mcpwarden/internal/limits"
	"mcpwarden/internal/pipeline"
)

// BenchmarkAccessAndLimits is the per-call cost that access rules and
// limits add to a small tools/call (Request, Response and Finish through
// the chain), with a five-rule policy and two rate limits: off, access
// only, limits only, both.
// Run: go test -run=^$ -bench=AccessAndLimits -benchmem ./internal/controls
func BenchmarkAccessAndLimits(b *testing.B) {
	p, es := access.Compile(access.Config{Default: access.Deny, Rules: []access.Rule{
		{ID: "no-anonymous", When: `caller.anonymous`, Decision: access.Deny},
		{ID: "contractors-read-only", When: `"contractors" in caller.groups && !annotations.readOnlyHint`, Decision: access.Deny},
		{ID: "no-etc", When: `tool == "read_file" && has(args.path) && string(args.path).startsWith("/etc")`, Decision: access.Deny},
		{ID: "approve-deletes", When: `tool.startsWith("delete_")`, Decision: access.Approve},
		{ID: "staff", When: `"dev" in caller.groups`, Decision: access.Allow},
	}})
	if len(es) > 0 {
		b.Fatal(es)
	}
	lim, err := limits.New(limits.Options{Config: limits.Config{
		MaxArgumentBytes: 256 << 10, MaxResultBytes: 4 << 20,
		Rate: []limits.RateLimit{
			{ID: "per-caller", Per: []string{limits.PerCaller}, Rate: limits.Rate{N: 1_000_000, Period: time.Second}},
			{ID: "per-tool", Per: []string{limits.PerCaller, limits.PerTool}, Rate: limits.Rate{N: 1_000_000, Period: time.Second}},
		},
	}})
	if err != nil {
		b.Fatal(err)
	}
	acc := access.New(access.Options{Policy: p})
	ids := make([]pipeline.Identity, 1024)
	for i := range ids {
		ids[i] = pipeline.Identity{Subject: fmt.Sprint("caller-", i), Method: "jwt", Groups: []string{"dev"}}
	}
	params := json.RawMessage(`{"name":"fs__read_file","arguments":{"path":"/home/alice/notes.txt"}}`)
	res := json.RawMessage(`{"content":[{"type":"text","text":"hello"}]}`)
	for _, tt := range []struct {
		name string
		ics  []pipeline.Interceptor
	}{
		{"off", nil},
		{"access", []pipeline.Interceptor{acc}},
		{"limits", []pipeline.Interceptor{lim}},
		{"access+limits", []pipeline.Interceptor{acc, lim}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			ch := pipeline.NewChain(tt.ics...)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				c := &pipeline.Call{Caller: ids[i%len(ids)], Direction: pipeline.ToServer, Method: "tools/call", Server: "fs", Name: "read_file", Params: params}
				if err := ch.Request(ctx, c); err != nil {
					b.Fatal(err)
				}
				out, err := ch.Response(ctx, c, res)
				if err != nil {
					b.Fatal(err)
				}
				ch.Finish(ctx, c, out, nil)
			}
		})
	}
}
