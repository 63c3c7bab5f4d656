package audit

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"mcpwarden/internal/pipeline"
)

func TestOTelSpans(t *testing.T) {
	deny := pipeline.DenyVerdict("args.path_root", "path is outside the allowed roots")
	tests := []struct {
		name       string
		call       func(*pipeline.Call)
		after      []pipeline.Interceptor
		upstream   func() (json.RawMessage, error)
		wantName   string
		wantKind   trace.SpanKind
		wantAttrs  map[string]string
		wantAbsent []string
		wantStatus codes.Code
	}{
		{
			name:     "tool call",
			upstream: okUpstream,
			wantName: "tools/call read_file",
			wantKind: trace.SpanKindServer,
			wantAttrs: map[string]string{
				"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read_file",
				"mcp.session.id": "sess-1", "mcp.protocol.version": "2025-11-25", "jsonrpc.request.id": "7",
				"jsonrpc.protocol.version": "2.0", "user.id": "alice", "mcpwarden.auth_method": "jwt",
				"mcpwarden.server": "fs", "mcpwarden.decision": "allow",
			},
			wantAbsent: []string{"error.type", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"},
			wantStatus: codes.Unset,
		},
		{
			name:       "denied",
			after:      []pipeline.Interceptor{&control{name: "args", deny: &deny}},
			wantName:   "tools/call read_file",
			wantKind:   trace.SpanKindServer,
			wantAttrs:  map[string]string{"error.type": "args.path_root", "mcpwarden.decision": "deny", "mcpwarden.control": "args", "mcpwarden.rule_ids": "[args.path_root]"},
			wantStatus: codes.Error,
		},
		{
			name:       "tool error",
			upstream:   func() (json.RawMessage, error) { return json.RawMessage(`{"content":[],"isError": true}`), nil },
			wantName:   "tools/call read_file",
			wantKind:   trace.SpanKindServer,
			wantAttrs:  map[string]string{"error.type": "tool_error"},
			wantStatus: codes.Error,
		},
		{
			name:       "upstream error",
			upstream:   func() (json.RawMessage, error) { return nil, errors.New("EOF") },
			wantName:   "tools/call read_file",
			wantKind:   trace.SpanKindServer,
			wantAttrs:  map[string]string{"error.type": "_OTHER"},
			wantStatus: codes.Error,
		},
		{
			name: "prompt",
			call: func(c *pipeline.Call) { c.Method, c.Name = "prompts/get", "summarize" },
			upstream: func() (json.RawMessage, error) {
				return json.RawMessage(`{"messages":[]}`), nil
			},
			wantName:   "prompts/get summarize",
			wantKind:   trace.SpanKindServer,
			wantAttrs:  map[string]string{"gen_ai.prompt.name": "summarize"},
			wantAbsent: []string{"gen_ai.operation.name", "gen_ai.tool.name"},
		},
		{
			name:       "resource",
			call:       func(c *pipeline.Call) { c.Method, c.Name = "resources/read", "file:///etc/hosts" },
			upstream:   func() (json.RawMessage, error) { return json.RawMessage(`{"contents":[]}`), nil },
			wantName:   "resources/read",
			wantKind:   trace.SpanKindServer,
			wantAttrs:  map[string]string{"mcp.resource.uri": "file:///etc/hosts"},
			wantAbsent: []string{"gen_ai.tool.name"},
		},
		{
			name: "server to client",
			call: func(c *pipeline.Call) {
				c.Method, c.Name, c.Direction = "sampling/createMessage", "", pipeline.ToClient
			},
			upstream: okUpstream,
			wantName: "sampling/createMessage",
			wantKind: trace.SpanKindClient,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer tp.Shutdown(context.Background())
			l, err := New(context.Background(), Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff, OTel: true}}, TracerProvider: tp})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			c := testCall()
			c.Start = time.Now()
			if tt.call != nil {
				tt.call(c)
			}
			up := tt.upstream
			if up == nil {
				up = okUpstream
			}
			parentCtx, parent := tp.Tracer("test").Start(context.Background(), "gateway")
			runCall(parentCtx, pipeline.NewChain(append([]pipeline.Interceptor{l}, tt.after...)...), c, up)
			parent.End()
			spans := exp.GetSpans()
			if len(spans) != 2 {
				t.Fatalf("got %d spans, want the call's span and its parent", len(spans))
			}
			s := spans[0]
			if s.Name != tt.wantName || s.SpanKind != tt.wantKind {
				t.Errorf("span = %q kind %v, want %q kind %v", s.Name, s.SpanKind, tt.wantName, tt.wantKind)
			}
			if s.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("span parent = %v, want the gateway span", s.Parent.SpanID())
			}
			if !s.StartTime.Before(s.EndTime) || s.StartTime.Before(c.Start.Add(-time.Millisecond)) {
				t.Errorf("span times %v..%v, want them to cover the call from %v", s.StartTime, s.EndTime, c.Start)
			}
			attrs := map[string]string{}
			for _, kv := range s.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
				if kv.Value.Type() == attribute.STRINGSLICE {
					attrs[string(kv.Key)] = "[" + joinStrings(kv.Value.AsStringSlice()) + "]"
				}
			}
			for k, v := range tt.wantAttrs {
				if attrs[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
				}
			}
			for _, k := range tt.wantAbsent {
				if _, ok := attrs[k]; ok {
					t.Errorf("attribute %s = %q, want it absent", k, attrs[k])
				}
			}
			if s.Status.Code != tt.wantStatus {
				t.Errorf("status = %v, want %v", s.Status.Code, tt.wantStatus)
			}
		})
	}
}

func joinStrings(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

func TestResultIsError(t *testing.T) {
	for in, want := range map[string]bool{
		`{"isError":true}`:                       true,
		`{"content":[], "isError" :  true}`:      true,
		`{"isError":false}`:                      false,
		`{"text":"isError"}`:                     false,
		`{"a":"\"isError\"","isError":true}`:     true,
		`{"content":[{"text":"isError: true"}]}`: false,
		``:                                       false,
	} {
		if got := resultIsError(in); got != want {
			t.Errorf("resultIsError(%s) = %v, want %v", in, got, want)
		}
	}
}
