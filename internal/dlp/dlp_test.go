package dlp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"mcpwarden/internal/catalogtest"
	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
)

var tools = map[string]string{
	"send_email": `{"name":"send_email","description":"Send an email.","inputSchema":{"type":"object","properties":{"to":{"type":"string"},"body":{"type":"string"}}},"annotations":{"openWorldHint":true}}`,
	"add":        `{"name":"add","description":"Adds two numbers.","inputSchema":{"type":"object","properties":{"note":{"type":"string"}}}}`,
}

const key = "AKIAQWERTYUIOPASDFGH"

func TestSinkArguments(t *testing.T) {
	tests := []struct {
		name, mode, tool string
		args             map[string]any
		deny             bool
		redacted         bool
	}{
		{"redacted to a sink", config.SecretsRedact, "send_email", map[string]any{"to": "x@example.com", "body": "the key is " + key}, false, true},
		{"nested and arrays", config.SecretsRedact, "send_email", map[string]any{"body": []any{map[string]any{"type": key}}}, false, true},
		{"denied to a sink", config.SecretsDeny, "send_email", map[string]any{"body": "the key is " + key}, true, false},
		{"clean to a sink", config.SecretsDeny, "send_email", map[string]any{"body": "hello"}, false, false},
		{"not a sink", config.SecretsDeny, "add", map[string]any{"note": key}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, err := New(Options{Policy: config.SecretsPolicy{SinkArguments: tt.mode}})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := json.Marshal(map[string]any{"name": tt.tool, "arguments": tt.args})
			cat := catalogtest.New("__")
			for n, d := range tools {
				cat.SetTool("demo", n, d)
			}
			c := &pipeline.Call{Method: "tools/call", Direction: pipeline.ToServer, Server: "demo", Name: tt.tool, Params: p, Catalog: cat}
			v, err := ic.Request(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if v.Deny != tt.deny {
				t.Fatalf("Request(%s) = %+v, want deny %v", tt.name, v, tt.deny)
			}
			if v.Deny && (v.Rule != RuleArgument || strings.Contains(v.Reason, key) || !strings.Contains(v.Reason, "aws-access-key")) {
				t.Errorf("denial %+v must name the type and not the key", v)
			}
			red := strings.Contains(string(c.Params), "[REDACTED:aws-access-key]")
			if red != tt.redacted || tt.redacted && strings.Contains(string(c.Params), key) {
				t.Errorf("params after Request = %s, want redacted %v", c.Params, tt.redacted)
			}
		})
	}
	if ic, _ := New(Options{Policy: config.SecretsPolicy{SinkArguments: config.SecretsAllow}}); ic != nil {
		t.Error("allow mode built a control")
	}
}
