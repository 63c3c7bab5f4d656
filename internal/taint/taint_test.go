package taint

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mcpwarden/internal/catalogtest"
	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
)

var demoTools = catalogOf(map[string]string{
	"get_ticket": `{"name":"get_ticket","description":"Read a support ticket, including the customer's message.","inputSchema":{"type":"object","properties":{"id":{"type":"string"}}},"annotations":{"readOnlyHint":true}}`,
	"read_file":  `{"name":"read_file","description":"Read a file from the public data directory.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}},"annotations":{"readOnlyHint":true}}`,
	"send_email": `{"name":"send_email","description":"Send an email on the user's behalf.","inputSchema":{"type":"object","properties":{"to":{"type":"string"},"body":{"type":"string"}}},"annotations":{"openWorldHint":true}}`,
	"add":        `{"name":"add","description":"Adds two numbers.","inputSchema":{"type":"object","properties":{"a":{"type":"number"}}}}`,
})

func catalogOf(defs map[string]string) *catalogtest.Catalog {
	c := catalogtest.New("__")
	for n, d := range defs {
		c.SetTool("demo", n, d)
	}
	return c
}

func run(t *testing.T, ic *Interceptor, session, caller, tool string) pipeline.Verdict {
	t.Helper()
	rev := "2025-11-25"
	if strings.HasPrefix(session, "stateless-") {
		rev = "2026-07-28"
	}
	c := &pipeline.Call{Method: "tools/call", Direction: pipeline.ToServer, Session: session, Revision: rev, Caller: pipeline.Identity{Subject: caller}, Server: "demo", Name: tool, Catalog: demoTools}
	v, err := ic.Request(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if v.Deny || v.Approve {
		return v
	}
	if _, _, err := ic.Response(context.Background(), c, json.RawMessage(`{"content":[]}`)); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTrifecta(t *testing.T) {
	tests := []struct {
		name   string
		action string
		calls  []string // the last one is judged
		want   string   // "allow", "deny" or "approve"
	}{
		{"sink alone", config.FlowApprove, []string{"send_email"}, "allow"},
		{"source then sink", config.FlowApprove, []string{"get_ticket", "send_email"}, "allow"},
		{"private then sink", config.FlowApprove, []string{"read_file", "send_email"}, "allow"},
		{"trifecta approve", config.FlowApprove, []string{"get_ticket", "read_file", "send_email"}, "approve"},
		{"trifecta deny", config.FlowDeny, []string{"read_file", "add", "get_ticket", "send_email"}, "deny"},
		{"harmless tools", config.FlowDeny, []string{"get_ticket", "read_file", "add"}, "allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, err := New(Options{Policy: config.FlowsPolicy{Action: tt.action}})
			if err != nil {
				t.Fatal(err)
			}
			var v pipeline.Verdict
			for _, c := range tt.calls {
				v = run(t, ic, "s1", "", c)
			}
			got := "allow"
			if v.Deny {
				got = "deny"
			} else if v.Approve {
				got = "approve"
			}
			if got != tt.want {
				t.Fatalf("calls %v: last verdict = %s (%+v), want %s", tt.calls, got, v, tt.want)
			}
			if got != "allow" && (v.Rule != RuleTrifecta || !strings.Contains(v.Reason, "demo/get_ticket") || !strings.Contains(v.Reason, "demo/read_file")) {
				t.Errorf("reason = %q, want the chain of calls named", v.Reason)
			}
		})
	}
}

func TestSessionsAreSeparate(t *testing.T) {
	ic, _ := New(Options{Policy: config.FlowsPolicy{Action: config.FlowDeny}})
	run(t, ic, "a", "", "get_ticket")
	run(t, ic, "a", "", "read_file")
	if v := run(t, ic, "b", "", "send_email"); v.Deny {
		t.Errorf("another session was denied: %+v", v)
	}
	// Stateless requests, each in its own session, are keyed by caller.
	run(t, ic, "stateless-1", "alice", "get_ticket")
	run(t, ic, "stateless-2", "alice", "read_file")
	if v := run(t, ic, "stateless-3", "bob", "send_email"); v.Deny {
		t.Errorf("another caller was denied: %+v", v)
	}
	if v := run(t, ic, "stateless-4", "alice", "send_email"); !v.Deny {
		t.Errorf("stateless caller with both taints was allowed")
	}
}

func TestOverrides(t *testing.T) {
	ic, err := New(Options{Policy: config.FlowsPolicy{Action: config.FlowDeny, Tools: []config.ToolLabels{
		{Match: "demo/add", Labels: []string{config.LabelSource}},
		{Match: "demo/send_email", Labels: []string{config.LabelNone}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ic, "s", "", "add")
	run(t, ic, "s", "", "read_file")
	if v := run(t, ic, "s", "", "send_email"); v.Deny {
		t.Errorf("send_email labelled none was denied: %+v", v)
	}
}
