package capability

import (
	"encoding/json"
	"slices"
	"testing"

	"mcpwarden/internal/report"
	"mcpwarden/internal/tooldef"
)

func TestWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"readFile", []string{"read", "file"}},
		{"fetch_logs(service)", []string{"fetch", "logs", "service"}},
		{"HTTPServer", []string{"http", "server"}},
		{"get-env", []string{"get", "env"}},
		{"Ünïcode wörds 42", []string{"ünïcode", "wörds", "42"}},
	}
	for _, tt := range tests {
		if got := Words(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		tool string
		want []report.Capability
	}{
		{`{"name":"fetch_logs","description":"Fetch journal entries of a service (runs journalctl -u SERVICE).","inputSchema":{"type":"object","properties":{"service":{"type":"string"}}}}`, []report.Capability{report.CapShell}},
		{`{"name":"read_file","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}}}`, []report.Capability{report.CapFilesystem}},
		{`{"name":"send_email","description":"Send an email.","inputSchema":{"type":"object"}}`, []report.Capability{report.CapMessaging}},
		{`{"name":"query","description":"Run a SQL query against the analytics database.","inputSchema":{"type":"object"}}`, []report.Capability{report.CapDatabase}},
		{`{"name":"debug_info","description":"Show diagnostic information and configuration.","inputSchema":{"type":"object"}}`, []report.Capability{report.CapSecrets}},
		{`{"name":"run_python","description":"Execute Python code in a notebook.","inputSchema":{"type":"object"}}`, []report.Capability{report.CapCodeExec}},
		{`{"name":"get_weather","description":"Weather for a city.","inputSchema":{"type":"object"},"annotations":{"openWorldHint":true}}`, []report.Capability{report.CapNetwork}},
		{`{"name":"edit_file","description":"Edit a file and return a git-style diff.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}}}}`, []report.Capability{report.CapFilesystem}},
		{`{"name":"add","description":"Adds two numbers.","inputSchema":{"type":"object"}}`, nil},
	}
	for _, tt := range tests {
		tl, err := tooldef.Decode(json.RawMessage(tt.tool))
		if err != nil {
			t.Fatal(err)
		}
		p := Classify(&tl)
		if !slices.Equal(p.Caps, tt.want) {
			t.Errorf("Classify(%s) = %v (%+v), want %v", tl.Name, p.Caps, p.Matches, tt.want)
		}
		if len(p.Matches) != len(p.Caps) {
			t.Errorf("Classify(%s): %d matches for %d capabilities", tl.Name, len(p.Matches), len(p.Caps))
		}
	}
}
