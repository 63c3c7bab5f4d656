package audit

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
sinks:
  sqlite: /var/lib/mcpwarden/audit.db
  jsonl: /var/log/mcpwarden/audit.jsonl
  otel: true
sync: full
on_error: allow
max_arg_bytes: 100
max_result_bytes: -1
redact: false
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sinks.SQLite != "/var/lib/mcpwarden/audit.db" || c.Sinks.JSONL != "/var/log/mcpwarden/audit.jsonl" || !c.Sinks.OTel ||
		c.Sync != SyncFull || c.OnError != OnErrorAllow || c.maxArgs() != 100 || c.maxResult() != -1 || c.redact() {
		t.Errorf("ParseConfig = %+v", c)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SQLitePath() != DefaultPath() || c.Sync.orDefault() != SyncNormal || !c.redact() ||
		c.maxArgs() != DefaultMaxArgBytes || c.maxResult() != DefaultMaxResultBytes {
		t.Errorf("defaults = %+v", c)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown key", "synk: full\n", "line 1: field synk not found"},
		{"unknown sink", "sinks:\n  kafka: x\n", "line 2: field kafka not found"},
		{"bad sync", "sinks: {}\nsync: fast\n", `line 2: sync: "fast" is not one of full, normal, off`},
		{"bad on_error", "on_error: ignore\n", `line 1: on_error: "ignore" is not one of deny, allow`},
		{"sync not a string", "sync: [full]\n", "line 1: sync: want one of"},
		{"all off", "sinks:\n  sqlite: off\n", "every sink is off"},
		{"same file", "sinks:\n  sqlite: a.db\n  jsonl: ./a.db\n", "same file"},
		{"two documents", "sync: full\n---\nsync: off\n", "more than one YAML document"},
		{"wrong type", "max_arg_bytes: lots\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"xdg", map[string]string{"XDG_STATE_HOME": "/st", "HOME": "/home/a"}, "/st/mcpwarden/audit.db"},
		{"relative xdg ignored", map[string]string{"XDG_STATE_HOME": "st", "HOME": "/home/a"}, "/home/a/.local/state/mcpwarden/audit.db"},
		{"home", map[string]string{"HOME": "/home/a"}, "/home/a/.local/state/mcpwarden/audit.db"},
		{"nothing", nil, "mcpwarden-audit.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultPath(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("defaultPath(%v) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}
