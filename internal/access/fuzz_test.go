package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCompile compiles arbitrary conditions. Nothing may panic; a
// condition that compiles must evaluate to a decision (or fail closed)
// for a sample request, in full and with unknowns.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`true`, `caller.subject == "alice"`, `"dev" in caller.groups`, `args.path.startsWith("/etc")`,
		`has(args.x) && args.x > 3`, `annotations.readOnlyHint || tool.matches("^get_")`,
		`caller.claims.exists(k, k == "email")`, `[1,2,3].all(x, x > 0)`, `size(args) > 2`,
		`tool == "x" &&`, `"\x00" == name`, `resource.lowerAscii().contains("secret")`,
		`args.n / 0 == 1`, `int(args.s) > 0`, `{"a":1}.a == 1`, `caller.groups.map(g, g + g).size() > 0`,
	} {
		f.Add(s)
	}
	in := tool(alice, "fs", "read_file", `{"path":"/etc/x","n":3,"s":"12"}`, DefaultAnnotations)
	f.Fuzz(func(t *testing.T, when string) {
		p, es := Compile(Config{Default: Deny, Rules: []Rule{{ID: "r", When: when, Decision: Allow}}})
		if len(es) > 0 {
			for _, e := range es {
				if e.Path == "" || e.Msg == "" {
					t.Fatalf("Compile(%q) error without a path or message: %+v", when, e)
				}
			}
			return
		}
		res := p.Decide(in)
		switch res.Decision {
		case Allow, Deny:
		default:
			t.Fatalf("Decide under %q = %+v", when, res)
		}
		if res.Err != nil && res.Decision != Deny {
			t.Fatalf("a failing rule did not deny: %+v", res)
		}
		p.Visible(in, Unknowns{Args: true, Name: true})
		p.Lint()
	})
}

// FuzzDecideArgs feeds arbitrary arguments to rules that read them.
func FuzzDecideArgs(f *testing.F) {
	for _, s := range []string{`{}`, `{"path":"/etc/passwd"}`, `{"path":3}`, `[]`, `null`, `{"path":{"a":1}}`, `"x"`, `{"n":1e400}`, `{"path":"/etc","path":"/home"}`, `{"n":-0}`} {
		f.Add([]byte(s))
	}
	p := compile(f, Deny,
		Rule{ID: "etc", When: `has(args.path) && string(args.path).startsWith("/etc")`, Decision: Deny},
		Rule{ID: "n", When: `has(args.n) && args.n > 10`, Decision: Approve},
		Rule{ID: "ok", When: `true`, Decision: Allow},
	)
	f.Fuzz(func(t *testing.T, args []byte) {
		in := tool(alice, "fs", "read_file", "", DefaultAnnotations)
		in.Args = json.RawMessage(args)
		res := p.Decide(in)
		if res.Decision == Allow && res.Rule != "access.ok" {
			t.Fatalf("Decide(%q) = %+v", args, res)
		}
	})
}

// FuzzNoDuplicateKeys checks the byte scanner against a reference built
// on encoding/json's tokenizer, for every valid JSON document.
func FuzzNoDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `[{"a":{"b":1,"b":2}}]`, `{"a":"}\"{","b":[1,{"a":1}]}`, `{"a\\"b":1,"a\"b":2}`, ` { "x" : [ ] , "y" : { } } `, `"str"`, `1e5`, `null`, `{"é":1,"\u00e9":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		got := noDuplicateKeys(b) == nil
		want := referenceNoDuplicates(b) == nil
		if got != want {
			t.Fatalf("noDuplicateKeys(%q) ok = %v, reference says %v", b, got, want)
		}
	})
}

func referenceNoDuplicates(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers beyond float64 are valid JSON
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				key := k.(string)
				if seen[key] {
					return errors.New("dup")
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	return walk()
}
