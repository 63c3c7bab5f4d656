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
