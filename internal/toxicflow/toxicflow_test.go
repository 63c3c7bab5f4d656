package toxicflow

import (
	"encoding/json"
	"testing"

	"mcpwarden/internal/capability"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/tooldef"
)

func label(t *testing.T, raw string) Labels {
	t.Helper()
	tl, err := tooldef.Decode(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	p := capability.Classify(&tl)
	return Label(&tl, &p)
}

func TestLabel(t *testing.T) {
	tests := []struct {
		tool                  string
		source, private, sink bool
	}{
		{`{"name":"get_ticket","description":"Read a support ticket, including the customer's message.","inputSchema":{"type":"object"}}`, true, false, false},
		{`{"name":"read_file","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}}}`, false, true, false},
		{`{"name":"send_email","description":"Send an email.","inputSchema":{"type":"object"}}`, false, false, true},
		{`{"name":"fetch_url","description":"Fetch a URL.","inputSchema":{"type":"object","properties":{"url":{"type":"string"}}}}`, true, false, true},
		{`{"name":"add","description":"Adds numbers.","inputSchema":{"type":"object"}}`, false, false, false},
	}
	for _, tt := range tests {
		l := label(t, tt.tool)
		if (l.Source != "") != tt.source || (l.Private != "") != tt.private || (l.Sink != "") != tt.sink {
			t.Errorf("Label(%s) = %+v, want source %v private %v sink %v", tt.tool[:30], l, tt.source, tt.private, tt.sink)
		}
	}
}

func TestAnalyze(t *testing.T) {
	tools := []Tool{
		{Server: "tickets", Name: "get_ticket", Labels: Labels{Source: "tickets"}},
		{Server: "files", Name: "read_file", Labels: Labels{Private: "files"}},
		{Server: "mail", Name: "send_email", Labels: Labels{Sink: "email"}},
	}
	per, cross := Analyze("claude-desktop", tools)
	if len(cross) != 1 || cross[0].RuleID != LethalTrifecta || cross[0].Tool != "mail/send_email" || cross[0].Evidence[0].Text != "tickets/get_ticket → files/read_file → mail/send_email" {
		t.Fatalf("cross = %v", cross)
	}
	if len(per["tickets"]) != 1 || per["tickets"][0].Category != finding.IndirectPromptInjection {
		t.Errorf("per-server = %v, want the untrusted source reported", per)
	}
	// No way out, no trifecta.
	if _, cross := Analyze("g", tools[:2]); len(cross) != 0 {
		t.Errorf("trifecta without a sink: %v", cross)
	}
	// All on one server: a per-server finding.
	for i := range tools {
		tools[i].Server = "one"
	}
	per, cross = Analyze("g", tools)
	if len(cross) != 0 || len(per["one"]) != 2 {
		t.Errorf("single server: per %v, cross %v", per, cross)
	}
}
