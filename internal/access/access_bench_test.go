package access

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"mcpwarden/internal/pipeline"
)

// benchPolicy is a realistic team policy: the deciding rule is the last
// one, so every rule is evaluated, and one of them reads an argument.
func benchPolicy(b *testing.B) *Interceptor {
	return newInterceptor(b, Deny,
		Rule{ID: "no-anonymous", When: `caller.anonymous`, Decision: Deny},
		Rule{ID: "contractors-read-only", When: `"contractors" in caller.groups && !annotations.readOnlyHint`, Decision: Deny},
		Rule{ID: "no-etc", When: `tool == "read_file" && has(args.path) && string(args.path).startsWith("/etc")`, Decision: Deny},
		Rule{ID: "approve-deletes", When: `tool.startsWith("delete_")`, Decision: Approve},
		Rule{ID: "staff", When: `"dev" in caller.groups || caller.claims.email.endsWith("@example.com")`, Decision: Allow},
	)
}

// BenchmarkRequest is the per-call cost of the access interceptor for a
// small tools/call decided by the last of five rules.
// Run: go test -run=^$ -bench=. -benchmem ./internal/access
func BenchmarkRequest(b *testing.B) {
	ic := benchPolicy(b)
	ctx := context.Background()
	params := json.RawMessage(`{"name":"fs__read_file","arguments":{"path":"/home/alice/notes.txt"}}`)
	b.ReportAllocs()
	for b.Loop() {
		c := &pipeline.Call{Caller: alice, Direction: pipeline.ToServer, Method: "tools/call", Server: "fs", Name: "read_file", Params: params, Catalog: testCatalog}
		v, err := ic.Request(ctx, c)
		if err != nil || v.Deny {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkRequestParallel is the same from many goroutines.
func BenchmarkRequestParallel(b *testing.B) {
	ic := benchPolicy(b)
	ctx := context.Background()
	params := json.RawMessage(`{"name":"fs__read_file","arguments":{"path":"/home/alice/notes.txt"}}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := &pipeline.Call{Caller: alice, Direction: pipeline.ToServer, Method: "tools/call", Server: "fs", Name: "read_file", Params: params, Catalog: testCatalog}
			if v, err := ic.Request(ctx, c); err != nil || v.Deny {
				b.Fatal(v, err)
			}
		}
	})
}

// BenchmarkFilterToolsList filters a tools/list of 50 tools for a
// contractor, who may see half of them.
func BenchmarkFilterToolsList(b *testing.B) {
	ic := benchPolicy(b)
	var tools []string
	for i := range 50 {
		ann := ""
		if i%2 == 0 {
			ann = `,"annotations":{"readOnlyHint":true}`
		}
		tools = append(tools, fmt.Sprintf(`{"name":"fs__tool_%d","description":"Tool number %d.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}}%s}`, i, i, ann))
	}
	list := json.RawMessage(`{"tools":[` + strings.Join(tools, ",") + `]}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := &pipeline.Call{Caller: carol, Direction: pipeline.ToServer, Method: "tools/list", Catalog: testCatalog}
		if _, _, err := ic.Response(ctx, c, list); err != nil {
			b.Fatal(err)
		}
	}
}
