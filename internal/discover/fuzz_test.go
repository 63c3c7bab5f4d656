package discover

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseJSONC(f *testing.F) {
	for _, s := range []string{
		`{"a": 1}`, `{"a": [1, 2,],}`, "// c\n{}", "/* */[]", `"\ud800"`, `"\ud83d\ude00"`,
		`{"a": 1, "a": 2}`, "\uFEFF{}", `[-0.0e-0]`, "{\"a\"\x00: 1}", `{"A": 1, "a": 2}`,
		`[1e999]`, `"\u0000"`, "\"\xff\"", `{"mcpServers": {"x": {"command": "npx"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseJSONC(data)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
			}
		} else {
			maxLine := strings.Count(string(data), "\n") + 1
			var walk func(*node)
			walk = func(n *node) {
				if n.line < 1 || n.line > maxLine {
					t.Fatalf("line %d outside 1..%d", n.line, maxLine)
				}
				for _, m := range n.members {
					walk(m.value)
				}
				for _, it := range n.items {
					walk(it)
				}
			}
			walk(n)
		}
		// Strict JSON must parse to what encoding/json decodes.
		if !json.Valid(data) {
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "nesting deeper") {
				return
			}
			t.Fatalf("parseJSONC rejected valid JSON %q: %v", data, err)
		}
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			return
		}
		if got := toAny(n); !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSONC(%q) = %#v, want %#v", data, got, want)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"${HOME}", "${X:-d}", "${env:T}", "${input:a}", "{env:T}", "{file:x}", "$T$", "${{ secrets.A }}",
		"${", "$", "{env:", "${/}${pathSeparator}", "$$T", "${env:T}}", "\x00${T}",
	} {
		f.Add(s, uint8(0))
	}
	env := map[string]string{"T": "tv", "HOME": "/h"}
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Fuzz(func(t *testing.T, s string, st uint8) {
		x := &expander{style: style(st % 7), lookup: look, home: "/home", workspace: "/w", sep: "/"}
		out, un := x.expand(s)
		for _, u := range un {
			if !strings.Contains(out, u) {
				t.Fatalf("expand(%q) = %q drops unresolved %q", s, out, u)
			}
			if !strings.Contains(s, u) {
				t.Fatalf("expand(%q) reports %q, which is not in the input", s, u)
			}
		}
		if x.style == styleUnknown || x.style == 0 {
			if out != s {
				t.Fatalf("style %d changed %q to %q", x.style, s, out)
			}
		}
		// With an empty environment and no workspace, only fixed
		// variables (home, separator, defaults) may be substituted, never
		// a value from nowhere.
		empty := &expander{style: x.style, lookup: func(string) (string, bool) { return "", false }, sep: "/"}
		if o2, _ := empty.expand(s); strings.Contains(o2, "tv") && !strings.Contains(s, "tv") {
			t.Fatalf("expand(%q) with no environment invented %q", s, o2)
		}
	})
}

func FuzzTOMLLines(f *testing.F) {
	for _, s := range []string{
		"[mcp_servers.a]\ncommand = \"x\"\n", "a.b.\"c.d\" = 1\n", "x = \"\"\"\nk = 1\n\"\"\"\n", "t = { a = 1, b = { c = 2 } }\n",
		"[[a]]\nb = 1\n[[a]]\nb = 2\n", "'q' = 1\n", "= 1\n", "[", "a = [\n 1,\n]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		maxLine := strings.Count(s, "\n") + 1
		for k, l := range tomlLines([]byte(s)) {
			if l < 1 || l > maxLine {
				t.Fatalf("key %q at line %d outside 1..%d", k, l, maxLine)
			}
		}
		if n, err := parseTOML([]byte(s)); err == nil && n.kind != kObject {
			t.Fatalf("TOML document decoded to %s", n.kind)
		}
	})
}

// FuzzShapes runs every client decoder over arbitrary documents: none may
// panic, and every declaration must point at a line of the file.
func FuzzShapes(f *testing.F) {
	seeds := []string{
		`{"mcpServers": {"a": {"command": "x", "args": ["y"], "env": {"K": "${V}"}}}}`,
		`{"servers": {"a": {"type": "http", "url": "https://h", "headers": {"A": "${input:x}"}}}}`,
		`{"mcp": {"a": {"type": "local", "command": ["x", "y"]}, "b": {"type": "remote", "url": "u"}}}`,
		`{"context_servers": {"a": {"command": {"path": "x"}}, "b": {"source": "extension"}}}`,
		`{"projects": {"/p": {"mcpServers": {"a": {"command": "x"}}}}, "mcpServers": {}}`,
		"mcpServers:\n  - name: a\n    command: x\n",
		"extensions:\n  a:\n    type: stdio\n    cmd: x\n    env_keys: [K]\n",
		"[mcp_servers.a]\ncommand = \"x\"\nbearer_token_env_var = \"T\"\n",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i))
	}
	shapes := []shape{shapeMCPServers, shapeGemini, shapeClaudeJSON, shapeVSCodeMCP, shapeVSCodeSettings, shapeZed, shapeContinue, shapeCodex, shapeOpenCode, shapeGoose}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		var root *node
		var err error
		switch sel % 3 {
		case 0:
			root, err = parseJSONC(data)
		case 1:
			root, err = parseYAML(data)
		default:
			root, err = parseTOML(data)
		}
		if err != nil || root.kind != kObject {
			return
		}
		maxLine := strings.Count(string(data), "\n") + 1
		for i, sh := range shapes {
			c := &fileCtx{client: "fuzz", path: "f", scope: ScopeUser, lookup: func(string) (string, bool) { return "v", true },
				x: &expander{style: style(i % 7), lookup: func(string) (string, bool) { return "v", true }, sep: "/"}}
			for _, s := range sh(c, root) {
				if s.Line < 1 || s.Line > maxLine {
					t.Fatalf("shape %d: server %q at line %d outside 1..%d", i, s.Name, s.Line, maxLine)
				}
				for field, l := range s.Lines {
					if l < 1 || l > maxLine {
						t.Fatalf("shape %d: field %s at line %d outside 1..%d", i, field, l, maxLine)
					}
				}
			}
			for _, e := range c.errs {
				if _, ok := e.(*FileError); !ok {
					t.Fatalf("error %T is not a *FileError", e)
				}
			}
		}
	})
}
