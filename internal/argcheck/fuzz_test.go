package argcheck

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"mcpwarden/internal/classify"
	"mcpwarden/internal/config"
)

// FuzzPathRoot checks that whatever path check allows stays inside the
// jail in its decoded form, lexically and with symlinks resolved.
func FuzzPathRoot(f *testing.F) {
	for _, s := range []string{"docs/a.txt", "../home", "..%2f..%2f", "%252e%252e/", "\xc0\xae\xc0\xae/", "shared/.ssh", "~/x", `..\..\`, "a/../../b", "file:///etc", "docs/%00", "\uff0e\uff0e/x", "inner/../../home"} {
		f.Add(s)
	}
	ws := workspaceF(f)
	root := filepath.Join(ws, "data")
	j, err := newJail([]string{root}, filepath.Join(ws, "home"))
	if err != nil {
		f.Fatal(err)
	}
	real := j.roots[0]
	f.Fuzz(func(t *testing.T, p string) {
		if j.check(p) != "" {
			return
		}
		for _, form := range []string{p, classify.Path(p).Decoded} {
			form = strings.ReplaceAll(form, `\`, "/")
			if form == "" || strings.HasPrefix(form, "file:") {
				continue
			}
			abs := form
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(real, form)
			}
			if got := resolve(abs); !inside(real, got) {
				t.Fatalf("check(%q) allowed, but %q resolves to %s outside %s", p, form, got, real)
			}
		}
	})
}

// FuzzURLRule checks that the url check never allows a literal internal
// address in any spelling the classifier understands.
func FuzzURLRule(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://0x7f.1/", "http://example.com@10.0.0.1/", "https://example.com/", "http://[fe80::1%25lo]/"} {
		f.Add(s)
	}
	u, err := newURLRule(&config.URLRule{})
	if err != nil {
		f.Fatal(err)
	}
	res := resolver{"example.com": {"93.184.215.14"}}
	f.Fuzz(func(t *testing.T, s string) {
		if u.check(context.Background(), res, s) != "" {
			return
		}
		r := classify.URL(s)
		if r.Class.Internal() && r.Host != "example.com" {
			t.Fatalf("check(%q) allowed host %q of class %s", s, r.Host, r.Class)
		}
	})
}

func workspaceF(f *testing.F) string { return mkWorkspace(f, f.TempDir()) }

// FuzzCompileSchema feeds arbitrary schemas to the compiler: it must
// never panic, never load anything, and a schema it accepts must validate
// a small value quickly (the cost bound).
func FuzzCompileSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"object"}`, `{"$ref":"#"}`, `{"$ref":"https://example.com/x"}`, `{"$ref":"file:///etc/passwd"}`,
		`{"items":{"anyOf":[{"$ref":"#"},{"$ref":"#"}]}}`, `{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`,
		`{"$dynamicAnchor":"n","anyOf":[{"$dynamicRef":"#n"}]}`, `{"pattern":"(a+)+$"}`, `{"$schema":"http://json-schema.org/draft-07/schema#","items":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := compile(raw)
		if c.err != nil || c.schema == nil {
			return
		}
		inst, _ := jsonschemaValue(`{"a":[1,{"b":"c"}],"d":"e"}`)
		_ = c.schema.Validate(inst)
	})
}
