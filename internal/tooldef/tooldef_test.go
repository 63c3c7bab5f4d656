package tooldef

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	tool := `{"name":"a","inputSchema":{"type":"object"}}`
	tests := []struct {
		name, in string
		n        int
		err      string
	}{
		{"tools/list result", `{"tools":[` + tool + `,` + tool + `]}`, 2, ""},
		{"json-rpc envelope", `{"jsonrpc":"2.0","id":1,"result":{"tools":[` + tool + `]}}`, 1, ""},
		{"array", "[" + tool + "]", 1, ""},
		{"jsonl", tool + "\n\n" + tool + "\n", 2, ""},
		{"one tool", tool, 1, ""},
		{"bom and spaces", "\xef\xbb\xbf  [" + tool + "]\n", 1, ""},
		{"empty", "  ", 0, "empty"},
		{"not json", "tools: []", 0, "want a JSON object"},
		{"array of numbers", "[1,2]", 0, "want a tool object"},
		{"object without tools", `{"mcpServers":{}}`, 0, `without "tools"`},
		{"bad jsonl line", tool + "\n{oops\n", 0, "line 2"},
		{"trailing data after array", "[" + tool + "] [", 0, "after the array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defs, err := ParseFile([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseFile(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || len(defs) != tt.n {
				t.Fatalf("ParseFile(%q) = %d defs, %v; want %d", tt.in, len(defs), err, tt.n)
			}
		})
	}
}

func TestDecodeAndParams(t *testing.T) {
	raw := `{"name":"send","title":"Send","description":"d","annotations":{"readOnlyHint":false},
	 "inputSchema":{"type":"object","required":["to"],"properties":{
	   "to":{"type":"string"},"body":{"type":["string","null"],"description":"text"},
	   "opts":{"type":"object","properties":{"depth":{"type":"integer"}}},
	   "files":{"type":"array","items":{"type":"object","properties":{"path":{"type":"string"}}}}}}}`
	tl, err := Decode(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := tl.TopLevel(); !slices.Equal(got, []string{"to", "body", "opts", "files"}) {
		t.Errorf("TopLevel() = %q, want document order", got)
	}
	var paths []string
	for _, p := range tl.Params() {
		paths = append(paths, fmt.Sprintf("%s:%v:%v", p.Path, p.Required, p.IsString()))
	}
	want := []string{"inputSchema.properties.body:false:true", "inputSchema.properties.files:false:false",
		"inputSchema.properties.files.items.properties.path:false:true", "inputSchema.properties.opts:false:false",
		"inputSchema.properties.opts.properties.depth:false:false", "inputSchema.properties.to:true:true"}
	if !slices.Equal(paths, want) {
		t.Errorf("Params() = %q\nwant %q", paths, want)
	}
	if v, set := tl.Annotation("readOnlyHint"); v || !set {
		t.Errorf("Annotation(readOnlyHint) = %v, %v; want false, true", v, set)
	}
	for _, bad := range []string{`null`, `{"description":"x"}`, `{"name":1}`, `[]`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := Decode(json.RawMessage(bad)); err == nil {
			t.Errorf("Decode(%.40q) succeeded, want an error", bad)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		`{"tools":[{"name":"a","inputSchema":{"type":"object","properties":{"p":{"type":"string"}}}}]}`,
		`[{"name":"a"},{"name":"b"}]`, "{\"name\":\"a\"}\n{\"name\":\"b\"}", `{"result":{"tools":[]}}`,
		"\xef\xbb\xbf[]", `{"tools":null}`, `{"name":"a","name":"b"}`, "{\"name\":\"\\u0000\"}", `[{"NAME":"x"}]`,
		strings.Repeat(`{"a":`, 80) + "1" + strings.Repeat("}", 80),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := ParseFile(data)
		if err != nil {
			return
		}
		for _, d := range defs {
			tl, err := Decode(d)
			if err != nil {
				continue
			}
			if tl.Name == "" {
				t.Fatalf("Decode(%q) gave a tool without a name", d)
			}
			_ = tl.Params()
			_ = tl.TopLevel()
		}
	})
}
