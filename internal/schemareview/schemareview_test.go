package schemareview

import (
	"encoding/json"
	"strings"
	"testing"

	"mcpwarden/internal/capability"
	"mcpwarden/internal/tooldef"
)

func TestReview(t *testing.T) {
	tests := []struct {
		name, tool string
		want       []string // rule@field
	}{
		{"shell tool param", `{"name":"fetch_logs","description":"runs journalctl -u SERVICE","inputSchema":{"type":"object","properties":{"service":{"type":"string"}}}}`,
			[]string{UnconstrainedCommand + "@inputSchema.properties.service"}},
		{"command by name", `{"name":"exec","inputSchema":{"type":"object","properties":{"cmd":{"type":"string","maxLength":100}}}}`,
			[]string{UnconstrainedCommand + "@inputSchema.properties.cmd"}},
		{"constrained by pattern", `{"name":"read_file","inputSchema":{"type":"object","properties":{"path":{"type":"string","pattern":"^[a-z]+$"}}}}`, nil},
		{"path and url", `{"name":"save","inputSchema":{"type":"object","properties":{"dest":{"type":"string"},"url":{"type":"string","format":"uri"},"n":{"type":"integer"}}}}`,
			[]string{UnconstrainedPath + "@inputSchema.properties.dest", UnconstrainedURL + "@inputSchema.properties.url"}},
		{"array of paths", `{"name":"read_many","inputSchema":{"type":"object","properties":{"paths":{"type":"array","items":{"type":"string"}}}}}`,
			[]string{UnconstrainedPath + "@inputSchema.properties.paths"}},
		{"query needs a database", `{"name":"search","description":"Search the web","inputSchema":{"type":"object","properties":{"query":{"type":"string"}}}}`, nil},
		{"sql query", `{"name":"run_sql","description":"Query the postgres database","inputSchema":{"type":"object","properties":{"query":{"type":"string"}}}}`,
			[]string{UnconstrainedQuery + "@inputSchema.properties.query"}},
		{"side channel", `{"name":"add","inputSchema":{"type":"object","properties":{"a":{"type":"number"},"sidenote":{"type":"string"}}}}`,
			[]string{ExfilChannel + "@inputSchema.properties.sidenote"}},
		{"notes tool keeps its note", `{"name":"add_note","inputSchema":{"type":"object","properties":{"note":{"type":"string"}}}}`, nil},
		{"open properties", `{"name":"x","inputSchema":{"type":"object","properties":{},"additionalProperties":true}}`, []string{OpenProperties + "@inputSchema.additionalProperties"}},
		{"no schema", `{"name":"x"}`, []string{MissingSchema + "@inputSchema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, err := tooldef.Decode(json.RawMessage(tt.tool))
			if err != nil {
				t.Fatal(err)
			}
			p := capability.Classify(&tl)
			var got []string
			for _, f := range Review("s", &tl, &p) {
				got = append(got, f.RuleID+"@"+f.Evidence[0].Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Review(%s) = %v, want %v", tl.Name, got, tt.want)
			}
		})
	}
}

func TestOpenSchemas(t *testing.T) {
	var tools []tooldef.Tool
	for _, s := range []string{`{"name":"b","inputSchema":{"type":"object","properties":{"x":{}}}}`, `{"name":"a","inputSchema":{"type":"object","properties":{"x":{}}}}`,
		`{"name":"closed","inputSchema":{"type":"object","properties":{"x":{}},"additionalProperties":false}}`, `{"name":"noargs","inputSchema":{"type":"object"}}`} {
		tl, _ := tooldef.Decode(json.RawMessage(s))
		tools = append(tools, tl)
	}
	fs := OpenSchemas("s", tools)
	if len(fs) != 1 || fs[0].Evidence[0].Text != "a, b" || fs[0].Title != "2 of 4 tools leave additionalProperties unset" {
		t.Errorf("OpenSchemas = %+v", fs)
	}
}
