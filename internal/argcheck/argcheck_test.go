package argcheck

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"mcpwarden/internal/catalogtest"
	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
)

// catalog is a fixed catalog for tests: "server/tool" → definition JSON.
type catalog map[string]string

func (c catalog) build() *catalogtest.Catalog {
	cat := catalogtest.New("__")
	for k, d := range c {
		s, n, _ := strings.Cut(k, "/")
		cat.SetTool(s, n, d)
	}
	return cat
}

// resolver is a map-backed [Resolver].
type resolver map[string][]string

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func call(server, tool string, args any) *pipeline.Call {
	p, _ := json.Marshal(map[string]any{"name": server + "__" + tool, "arguments": args})
	return &pipeline.Call{Method: "tools/call", Direction: pipeline.ToServer, Server: server, Name: tool, Params: p}
}

func tool(name, schema string) string {
	return `{"name":"` + name + `","inputSchema":` + schema + `}`
}

// workspace makes root/data (the jail), root/home/.ssh/id_rsa, and
// symlinks data/shared -> ../home and data/inner -> ./docs.
func workspace(t *testing.T) string {
	t.Helper()
	return mkWorkspace(t, t.TempDir())
}

func mkWorkspace(t testing.TB, root string) string {
	for _, d := range []string{"data/docs", "home/.ssh"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "home/.ssh/id_rsa"), []byte("key"), 0o600)
	os.WriteFile(filepath.Join(root, "data/docs/a.txt"), []byte("a"), 0o644)
	if err := os.Symlink("../home", filepath.Join(root, "data/shared")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("./docs", filepath.Join(root, "data/inner"))
	os.Symlink("/etc/passwd", filepath.Join(root, "data/docs/passwd"))
	return root
}

func TestArguments(t *testing.T) {
	ws := workspace(t)
	data := filepath.Join(ws, "data")
	pol := config.ArgumentsPolicy{Schema: config.SchemaEnforce, InvalidSchema: config.InvalidSchemaDeny, Tools: []config.ToolArguments{
		{Match: "demo/read_file", Arguments: map[string]config.ArgumentRule{"path": {PathRoot: []string{data}}}},
		{Match: "demo/fetch_url", Arguments: map[string]config.ArgumentRule{"url": {URL: &config.URLRule{}}}},
		{Match: "demo/fetch_only", Arguments: map[string]config.ArgumentRule{"url": {URL: &config.URLRule{Schemes: []string{"https"}, Hosts: []string{"*.example.com", "docs.python.org"}}}}},
		{Match: "demo/fetch_local", Arguments: map[string]config.ArgumentRule{"url": {URL: &config.URLRule{AllowAddresses: []string{"loopback"}}}}},
		{Match: "demo/fetch_logs", Arguments: map[string]config.ArgumentRule{"service": {Command: []string{"nginx", "sshd"}}}},
		{Match: "demo/pick", Arguments: map[string]config.ArgumentRule{
			"color": {Enum: []string{"red", "green"}}, "code": {Pattern: `[A-Z]{3}`}, "name": {MaxLength: 5}, "opts.dir": {PathRoot: []string{data}}}},
		{Match: "*/send_email", Arguments: map[string]config.ArgumentRule{"*": {DenyFindings: []string{"secret_exfiltration"}}}},
	}}
	ic, err := New(Options{Policy: pol, Home: filepath.Join(ws, "home"), Resolver: resolver{
		"example.com": {"93.184.215.14"}, "api.example.com": {"93.184.215.14"}, "docs.python.org": {"151.101.0.223"},
		"internal.example.com": {"10.1.2.3"}, "mixed.example.com": {"93.184.215.14", "127.0.0.1"}, "v6.example.com": {"::ffff:169.254.169.254"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	str := `{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}`
	cat := catalog{
		"demo/read_file":   tool("read_file", str),
		"demo/strict":      tool("strict", `{"type":"object","properties":{"n":{"type":"integer","minimum":1}},"required":["n"],"additionalProperties":false}`),
		"demo/remote_ref":  tool("remote_ref", `{"type":"object","properties":{"x":{"$ref":"https://schemas.example.com/x.json"}}}`),
		"demo/file_ref":    tool("file_ref", `{"type":"object","properties":{"x":{"$ref":"file:///etc/passwd"}}}`),
		"demo/rel_ref":     tool("rel_ref", `{"type":"object","properties":{"x":{"$ref":"other.json#/x"}}}`),
		"demo/local_ref":   tool("local_ref", `{"type":"object","$defs":{"s":{"type":"string","maxLength":3}},"properties":{"x":{"$ref":"#/$defs/s"}}}`),
		"demo/explosive":   tool("explosive", `{"type":"object","properties":{"x":{"$ref":"#/$defs/t"}},"$defs":{"t":{"type":"array","items":{"anyOf":[{"$ref":"#/$defs/t"},{"$ref":"#/$defs/t"}]}}}}`),
		"demo/loop":        tool("loop", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`),
		"demo/tree":        tool("tree", `{"$defs":{"node":{"type":"object","properties":{"v":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"type":"object","properties":{"root":{"$ref":"#/$defs/node"}}}`),
		"demo/draft7":      tool("draft7", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`),
		"demo/unknownmeta": tool("unknownmeta", `{"$schema":"https://evil.example/meta","type":"object"}`),
		"demo/lookahead":   tool("lookahead", `{"type":"object","properties":{"a":{"type":"string","pattern":"^(?!x)"}}}`),
		"demo/noschema":    `{"name":"noschema"}`,
	}
	tests := []struct {
		name, tool string
		args       any
		rule       string // "" allows
		reason     string // substring of the reason
	}{
		{"schema ok", "read_file", map[string]any{"path": "docs/a.txt"}, "", ""},
		{"schema missing required", "strict", map[string]any{}, RuleSchema, "missing property 'n'"},
		{"schema wrong type", "strict", map[string]any{"n": "one"}, RuleSchema, "argument n"},
		{"schema extra property", "strict", map[string]any{"n": 2, "x": 1}, RuleSchema, "additional properties 'x'"},
		{"schema below minimum", "strict", map[string]any{"n": 0}, RuleSchema, "minimum"},
		{"schema null arguments", "strict", nil, RuleSchema, "missing property"},
		{"remote ref refused", "remote_ref", map[string]any{"x": 1}, RuleSchemaInvalid, "not loaded"},
		{"file ref refused", "file_ref", map[string]any{"x": 1}, RuleSchemaInvalid, "not loaded"},
		{"relative ref refused", "rel_ref", map[string]any{"x": 1}, RuleSchemaInvalid, "not loaded"},
		{"local ref ok", "local_ref", map[string]any{"x": "abc"}, "", ""},
		{"local ref enforced", "local_ref", map[string]any{"x": "abcd"}, RuleSchema, "maxLength"},
		{"exponential schema refused", "explosive", map[string]any{"x": []any{}}, RuleSchemaInvalid, "too complex"},
		{"ref loop refused", "loop", map[string]any{}, RuleSchemaInvalid, ""},
		{"recursive tree ok", "tree", map[string]any{"root": map[string]any{"v": "a", "kids": []any{map[string]any{"v": "b"}}}}, "", ""},
		{"recursive tree enforced", "tree", map[string]any{"root": map[string]any{"kids": []any{map[string]any{"v": 1}}}}, RuleSchema, "kids"},
		{"draft-07 metaschema ok", "draft7", map[string]any{"a": "x"}, "", ""},
		{"draft-07 enforced", "draft7", map[string]any{}, RuleSchema, "missing property 'a'"},
		{"unknown metaschema refused", "unknownmeta", map[string]any{}, RuleSchemaInvalid, ""},
		{"ECMA-only pattern refused", "lookahead", map[string]any{"a": "y"}, RuleSchemaInvalid, ""},
		{"no schema refused", "noschema", map[string]any{}, RuleSchemaInvalid, "no input schema"},
		{"unlisted tool passes", "not_listed", map[string]any{"a": 1}, "", ""},

		{"path inside", "read_file", map[string]any{"path": "docs/a.txt"}, "", ""},
		{"path inside, new file", "read_file", map[string]any{"path": "docs/new/b.txt"}, "", ""},
		{"path inside via inner link", "read_file", map[string]any{"path": "inner/a.txt"}, "", ""},
		{"path absolute inside", "read_file", map[string]any{"path": filepath.Join(data, "docs/a.txt")}, "", ""},
		{"path dot-dot", "read_file", map[string]any{"path": "../home/.ssh/id_rsa"}, RulePathRoot, "outside"},
		{"path absolute outside", "read_file", map[string]any{"path": "/etc/passwd"}, RulePathRoot, "outside"},
		{"path symlink escape", "read_file", map[string]any{"path": "shared/.ssh/id_rsa"}, RulePathRoot, filepath.Join(ws, "home")},
		{"path symlink to file outside", "read_file", map[string]any{"path": "docs/passwd"}, RulePathRoot, "/etc/passwd"},
		{"path url-encoded", "read_file", map[string]any{"path": "..%2fhome%2f.ssh%2fid_rsa"}, RulePathRoot, "decoded"},
		{"path double-encoded", "read_file", map[string]any{"path": "..%252fhome%252f.ssh%252fid_rsa"}, RulePathRoot, "decoded"},
		{"path overlong percent", "read_file", map[string]any{"path": "%c0%ae%c0%ae%c0%afhome"}, RulePathRoot, ""},
		{"path fullwidth dots", "read_file", map[string]any{"path": "\uff0e\uff0e/home"}, RulePathRoot, ""},
		{"path backslashes", "read_file", map[string]any{"path": `..\home\.ssh\id_rsa`}, RulePathRoot, ""},
		{"path NUL", "read_file", map[string]any{"path": "docs/a.txt\x00../../x"}, RulePathRoot, "NUL"},
		{"path encoded NUL", "read_file", map[string]any{"path": "docs/a.txt%00"}, RulePathRoot, "NUL"},
		{"path tilde", "read_file", map[string]any{"path": "~/.ssh/id_rsa"}, RulePathRoot, "outside"},
		{"path tilde user", "read_file", map[string]any{"path": "~root/.ssh"}, RulePathRoot, "another user"},
		{"path variable", "read_file", map[string]any{"path": "$HOME/.ssh"}, RulePathRoot, "variable"},
		{"path drive letter", "read_file", map[string]any{"path": `C:\Windows\win.ini`}, RulePathRoot, "drive"},
		{"path UNC", "read_file", map[string]any{"path": `\\attacker\share`}, RulePathRoot, "network share"},
		{"path file URL", "read_file", map[string]any{"path": "file:///etc/passwd"}, RulePathRoot, "outside"},
		{"path not a string", "read_file", map[string]any{"path": 3}, RuleSchema, ""},

		{"url public", "fetch_url", map[string]any{"url": "https://example.com/page"}, "", ""},
		{"url public literal", "fetch_url", map[string]any{"url": "http://93.184.215.14/"}, "", ""},
		{"url loopback", "fetch_url", map[string]any{"url": "http://127.0.0.1:8080/"}, RuleURL, "loopback"},
		{"url decimal", "fetch_url", map[string]any{"url": "http://2130706433/"}, RuleURL, "127.0.0.1"},
		{"url hex", "fetch_url", map[string]any{"url": "http://0x7f000001/"}, RuleURL, "loopback"},
		{"url octal", "fetch_url", map[string]any{"url": "http://017700000001/"}, RuleURL, "loopback"},
		{"url short", "fetch_url", map[string]any{"url": "http://127.1/"}, RuleURL, "loopback"},
		{"url mixed radix", "fetch_url", map[string]any{"url": "http://0x7f.0.0.1/"}, RuleURL, "loopback"},
		{"url zero", "fetch_url", map[string]any{"url": "http://0.0.0.0/"}, RuleURL, "unspecified"},
		{"url ipv6 loopback", "fetch_url", map[string]any{"url": "http://[::1]/"}, RuleURL, "loopback"},
		{"url ipv4-mapped", "fetch_url", map[string]any{"url": "http://[::ffff:127.0.0.1]/"}, RuleURL, "loopback"},
		{"url ipv4-mapped hex", "fetch_url", map[string]any{"url": "http://[::ffff:7f00:1]/"}, RuleURL, "loopback"},
		{"url zone id", "fetch_url", map[string]any{"url": "http://[fe80::1%25eth0]/"}, RuleURL, "link_local"},
		{"url metadata", "fetch_url", map[string]any{"url": "http://169.254.169.254/latest/meta-data/"}, RuleURL, "metadata"},
		{"url metadata name", "fetch_url", map[string]any{"url": "http://metadata.google.internal/"}, RuleURL, "metadata"},
		{"url localhost", "fetch_url", map[string]any{"url": "http://localhost:9000/"}, RuleURL, "loopback"},
		{"url rebinding name", "fetch_url", map[string]any{"url": "http://127.0.0.1.nip.io/"}, RuleURL, "loopback"},
		{"url resolves private", "fetch_url", map[string]any{"url": "https://internal.example.com/"}, RuleURL, "10.1.2.3"},
		{"url resolves mixed", "fetch_url", map[string]any{"url": "https://mixed.example.com/"}, RuleURL, "127.0.0.1"},
		{"url resolves mapped metadata", "fetch_url", map[string]any{"url": "https://v6.example.com/"}, RuleURL, "metadata"},
		{"url unresolvable", "fetch_url", map[string]any{"url": "https://nowhere.invalid/"}, RuleURL, "does not resolve"},
		{"url userinfo confusion", "fetch_url", map[string]any{"url": "http://example.com@127.0.0.1/"}, RuleURL, ""},
		{"url backslash", "fetch_url", map[string]any{"url": `http://example.com\@127.0.0.1/`}, RuleURL, ""},
		{"url encoded host", "fetch_url", map[string]any{"url": "http://%31%32%37.0.0.1/"}, RuleURL, ""},
		{"url gopher", "fetch_url", map[string]any{"url": "gopher://example.com/_x"}, RuleURL, "scheme"},
		{"url schemeless", "fetch_url", map[string]any{"url": "127.0.0.1/x"}, RuleURL, "scheme"},
		{"url crlf", "fetch_url", map[string]any{"url": "http://example.com/\r\nHost: x"}, RuleURL, ""},
		{"url host allowed", "fetch_only", map[string]any{"url": "https://api.example.com/x"}, "", ""},
		{"url host exact", "fetch_only", map[string]any{"url": "https://docs.python.org/3/"}, "", ""},
		{"url host not allowed", "fetch_only", map[string]any{"url": "https://example.org/"}, RuleURL, "not allowed"},
		{"url apex not subdomain", "fetch_only", map[string]any{"url": "https://example.com/"}, RuleURL, "not allowed"},
		{"url http not allowed", "fetch_only", map[string]any{"url": "http://api.example.com/"}, RuleURL, "scheme http"},
		{"url loopback allowed", "fetch_local", map[string]any{"url": "http://127.0.0.1:9/"}, "", ""},
		{"url private still denied", "fetch_local", map[string]any{"url": "http://10.0.0.1/"}, RuleURL, "private"},

		{"command ok", "fetch_logs", map[string]any{"service": "nginx"}, "", ""},
		{"command separator", "fetch_logs", map[string]any{"service": "nginx; cat /etc/passwd"}, RuleCommand, "shell.separator"},
		{"command substitution", "fetch_logs", map[string]any{"service": "nginx$(id)"}, RuleCommand, "substitution"},
		{"command backticks", "fetch_logs", map[string]any{"service": "nginx`id`"}, RuleCommand, "backtick"},
		{"command pipe", "fetch_logs", map[string]any{"service": "nginx | nc x 1"}, RuleCommand, "pipe"},
		{"command newline", "fetch_logs", map[string]any{"service": "nginx\nid"}, RuleCommand, "newline"},
		{"command redirect", "fetch_logs", map[string]any{"service": "nginx >/tmp/x"}, RuleCommand, "redirect"},
		{"command not allowed", "fetch_logs", map[string]any{"service": "apache2"}, RuleCommand, "not an allowed command"},

		{"enum ok", "pick", map[string]any{"color": "red"}, "", ""},
		{"enum", "pick", map[string]any{"color": "blue"}, RuleEnum, "blue"},
		{"pattern anchored", "pick", map[string]any{"code": "ABCD"}, RulePattern, ""},
		{"pattern ok", "pick", map[string]any{"code": "ABC"}, "", ""},
		{"max length counts characters", "pick", map[string]any{"name": "ééééé"}, "", ""},
		{"max length", "pick", map[string]any{"name": "abcdef"}, RuleMaxLength, "6 characters"},
		{"nested path", "pick", map[string]any{"opts": map[string]any{"dir": "../home"}}, RulePathRoot, ""},
		{"enum applies to arrays", "pick", map[string]any{"color": []any{"red", "pink"}}, RuleEnum, "pink"},
		{"constraint on non-string", "pick", map[string]any{"color": 7}, RuleNotString, "number"},

		{"secret to sink denied", "send_email", map[string]any{"to": "a@example.com", "body": "key AKIAIOSFODNN7EXAMPLQ secret"}, RuleFindings, `"body"`},
		{"clean mail ok", "send_email", map[string]any{"to": "a@example.com", "body": "see you tomorrow"}, "", ""},
	}
	built := cat.build()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call("demo", tt.tool, tt.args)
			c.Catalog = built
			v, err := ic.Request(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rule == "" {
				if v.Deny {
					t.Fatalf("Request(%s %v) = deny %s: %s, want allow", tt.tool, tt.args, v.Rule, v.Reason)
				}
				return
			}
			if !v.Deny || v.Rule != tt.rule {
				t.Fatalf("Request(%s %v) = %+v, want deny %s", tt.tool, tt.args, v, tt.rule)
			}
			if !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("Request(%s %v) reason = %q, want it to contain %q", tt.tool, tt.args, v.Reason, tt.reason)
			}
		})
	}
}

func TestInvalidSchemaSkip(t *testing.T) {
	ic, err := New(Options{Policy: config.ArgumentsPolicy{Schema: config.SchemaEnforce, InvalidSchema: config.InvalidSchemaSkip}})
	if err != nil {
		t.Fatal(err)
	}
	c := call("demo", "remote_ref", map[string]any{"x": 1})
	c.Catalog = catalog{"demo/remote_ref": tool("remote_ref", `{"$ref":"https://schemas.example.com/x.json"}`)}.build()
	if v, _ := ic.Request(context.Background(), c); v.Deny {
		t.Errorf("invalid_schema: skip denied %+v", v)
	}
}

func TestSchemaCompiledOnce(t *testing.T) {
	var s schemas
	raw := []byte(`{"type":"object"}`)
	a, b := s.get(raw), s.get(append([]byte(nil), raw...))
	if a != b || a.schema == nil {
		t.Errorf("schemas.get twice = %p, %p; want the same compiled schema", a, b)
	}
}

func TestPathRootMustExist(t *testing.T) {
	_, err := New(Options{Policy: config.ArgumentsPolicy{Tools: []config.ToolArguments{{Match: "a/b",
		Arguments: map[string]config.ArgumentRule{"p": {PathRoot: []string{"/nonexistent/mcpwarden"}}}}}}})
	if err == nil {
		t.Error("New with a missing path_root = nil error")
	}
}

// TestJailRawBytes checks forms JSON cannot carry (invalid UTF-8 turns
// into U+FFFD when decoded) but a Go caller can.
func TestJailRawBytes(t *testing.T) {
	ws := workspace(t)
	j, err := newJail([]string{filepath.Join(ws, "data")}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"\xc0\xae\xc0\xae/home", "\xe0\x80\xae\xe0\x80\xae/home", "~/x"} {
		if why := j.check(in); why == "" {
			t.Errorf("jail.check(%q) = allowed, want denied", in)
		}
	}
}

func jsonschemaValue(s string) (any, error) { return jsonschema.UnmarshalJSON(strings.NewReader(s)) }

// TestPathologicalSchemas checks that hostile schemas are refused before
// validation can take long: every one here would take exponential time or
// loop if compiled and run.
func TestPathologicalSchemas(t *testing.T) {
	deep := strings.Repeat(`{"items":`, 70) + `{}` + strings.Repeat(`}`, 70)
	fan := `{"$defs":{"t":{"type":"array","items":{"anyOf":[{"$ref":"#/$defs/t"},{"$ref":"#/$defs/t"},{"$ref":"#/$defs/t"}]}}},"$ref":"#/$defs/t"}`
	allof := `{"$defs":{"t":{"properties":{"x":{"allOf":[{"$ref":"#/$defs/t"},{"$ref":"#/$defs/t"}]}}}},"$ref":"#/$defs/t"}`
	containsItems := `{"$defs":{"t":{"items":{"$ref":"#/$defs/t"},"contains":{"$ref":"#/$defs/t"}}},"$ref":"#/$defs/t"}`
	big := `{"enum":[` + strings.Repeat(`"x",`, 30000) + `"x"]}`
	for name, s := range map[string]string{"deep": deep, "fan-out": fan, "allOf": allof, "items+contains": containsItems, "too many values": big} {
		t.Run(name, func(t *testing.T) {
			if c := compile([]byte(s)); c.err == nil {
				t.Errorf("compile(%s) accepted a pathological schema", name)
			}
		})
	}
	// The exponential instance would take 3^64 evaluations; it is never
	// validated because the schema is refused.
	ok := `{"$defs":{"t":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/t"}}}}},"$ref":"#/$defs/t"}`
	if c := compile([]byte(ok)); c.err != nil {
		t.Errorf("compile(tree) = %v, want a recursive tree schema accepted", c.err)
	}
}
