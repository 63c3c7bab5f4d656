package discover

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// toAny converts a node to the value encoding/json would produce, with
// numbers as json.Number, for differential checks.
func toAny(n *node) any {
	switch n.kind {
	case kNull:
		return nil
	case kBool:
		return n.text == "true"
	case kNumber:
		return json.Number(n.text)
	case kString:
		return n.text
	case kArray:
		out := make([]any, 0, len(n.items))
		for _, it := range n.items {
			out = append(out, toAny(it))
		}
		return out
	}
	out := map[string]any{}
	for _, m := range n.members {
		out[m.key] = toAny(m.value)
	}
	return out
}

func TestParseJSONC(t *testing.T) {
	tests := []struct {
		name, in string
		want     any    // as encoding/json would decode, numbers as json.Number
		err      string // substring of the error, "" for success
	}{
		{name: "plain", in: `{"a": [1, "x", true, null]}`, want: map[string]any{"a": []any{json.Number("1"), "x", true, nil}}},
		{name: "line comment", in: "{\n// c\n\"a\": 1 // tail\n}", want: map[string]any{"a": json.Number("1")}},
		{name: "block comment", in: "/* x\n y */ {\"a\": /* in */ 2}", want: map[string]any{"a": json.Number("2")}},
		{name: "trailing commas", in: `{"a": [1, 2,], "b": {"c": 3,},}`, want: map[string]any{"a": []any{json.Number("1"), json.Number("2")}, "b": map[string]any{"c": json.Number("3")}}},
		{name: "duplicate keys last wins", in: `{"a": 1, "a": 2}`, want: map[string]any{"a": json.Number("2")}},
		{name: "escapes", in: `"\u00e9\ud83d\ude00\n\/\"\\"`, want: "é😀\n/\"\\"},
		{name: "lone surrogate", in: `"\ud800x"`, want: "\uFFFDx"},
		{name: "surrogate then escape", in: `"\ud800\u0041"`, want: "\uFFFDA"},
		{name: "bom", in: "\uFEFF{}", want: map[string]any{}},
		{name: "numbers", in: `[-0, 1.5e+10, 0.25, -1E-2]`, want: []any{json.Number("-0"), json.Number("1.5e+10"), json.Number("0.25"), json.Number("-1E-2")}},
		{name: "empty", in: "  // nothing\n", err: "line 2 col 1: empty document"},
		{name: "unterminated comment", in: "{ /* open", err: "line 1 col 3: unterminated /* comment"},
		{name: "missing comma", in: "{\n\"a\": 1\n\"b\": 2}", err: "line 3 col 1: unexpected '\"' after value of \"a\", want ',' or '}'"},
		{name: "leading zero", in: `[01]`, err: "invalid number"},
		{name: "bare word", in: `{"a": yes}`, err: "line 1 col 7: unexpected 'y', want a value"},
		{name: "truex", in: `[truex]`, err: "want a value"},
		{name: "single quotes", in: `{'a': 1}`, err: "want a quoted key"},
		{name: "newline in string", in: "\"a\nb\"", err: "newline in string"},
		{name: "trailing data", in: `{} {}`, err: "after the top-level value"},
		{name: "lonely comma", in: `[,]`, err: "want a value"},
		{name: "bad escape", in: `"\x"`, err: `invalid escape '\x'`},
		{name: "deep", in: strings.Repeat("[", 600) + strings.Repeat("]", 600), err: "nesting deeper than 512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := parseJSONC([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseJSONC(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJSONC(%q) error = %v", tt.in, err)
			}
			if got := toAny(n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseJSONC(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseJSONCLines(t *testing.T) {
	src := "{\n  \"a\": {\n    \"b\": [\n      \"x\",\n      /* c\n */ \"y\"\n    ]\n  }\n}"
	n, err := parseJSONC([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := n.members[0]
	b := a.value.members[0]
	got := []int{a.line, a.value.line, b.line, b.value.items[0].line, b.value.items[1].line}
	if want := []int{2, 2, 3, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("lines = %v, want %v", got, want)
	}
}

func TestTOMLLines(t *testing.T) {
	src := `top = 1
[mcp_servers.a]
command = "x" # comment
env = { K = "v", "Q.R" = "w" }
text = """
fake = "not a key"
"""
[mcp_servers."b.c"]
args.more = ["z"]
`
	n, err := parseTOML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := n.path("mcp_servers", "a")
	bc := n.path("mcp_servers", "b.c")
	got := []int{n.get("top").line, a.line, a.get("command").line, a.path("env", "Q.R").line, a.get("text").line, bc.line, bc.path("args", "more").line}
	if want := []int{1, 2, 3, 4, 5, 8, 9}; !slices.Equal(got, want) {
		t.Errorf("lines = %v, want %v", got, want)
	}
	if a.get("fake") != nil {
		t.Errorf("a key inside a multi-line string was decoded")
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"HOME": "/h", "TOKEN": "t0k", "EMPTY": ""}
	look := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		style      style
		workspace  string
		in, want   string
		unresolved []string
	}{
		{styleClaudeCode, "", "${HOME}/x", "/h/x", nil},
		{styleClaudeCode, "", "${MISSING:-def}", "def", nil},
		{styleClaudeCode, "", "${EMPTY:-def}", "", nil},
		{styleClaudeCode, "", "a ${MISSING} b", "a ${MISSING} b", []string{"${MISSING}"}},
		{styleClaudeCode, "", "$HOME stays", "$HOME stays", nil},
		{styleClaudeCode, "", "${unterminated", "${unterminated", nil},
		{styleVSCode, "/w", "${env:TOKEN}:${workspaceFolder}:${workspaceFolderBasename}", "t0k:/w:w", nil},
		{styleVSCode, "", "${userHome}${pathSeparator}x${/}y", "/home/u/x/y", nil},
		{styleVSCode, "", "${workspaceFolder}/a", "${workspaceFolder}/a", []string{"${workspaceFolder}"}},
		{styleVSCode, "", "Bearer ${input:tok}", "Bearer ${input:tok}", []string{"${input:tok}"}},
		{styleVSCode, "", "${env:NOPE}${command:x}", "${env:NOPE}${command:x}", []string{"${env:NOPE}", "${command:x}"}},
		{styleGemini, "", "$TOKEN-${HOME}-$NOPE", "t0k-/h-$NOPE", []string{"$NOPE"}},
		{styleGemini, "", "cost $5", "cost $5", nil},
		{styleOpenCode, "", "{env:TOKEN} {env:NOPE} {file:./k}", "t0k {env:NOPE} {file:./k}", []string{"{env:NOPE}", "{file:./k}"}},
		{styleOpenCode, "", "{\"json\": ${TOKEN}}", "{\"json\": ${TOKEN}}", nil},
		{styleContinue, "", "Bearer ${{ secrets.X }}", "Bearer ${{ secrets.X }}", []string{"${{ secrets.X }}"}},
		{styleUnknown, "", "${env:TOKEN} {env:TOKEN}", "${env:TOKEN} {env:TOKEN}", []string{"${env:TOKEN}", "{env:TOKEN}"}},
	}
	for _, tt := range tests {
		x := &expander{style: tt.style, lookup: look, home: "/home/u", workspace: tt.workspace, sep: "/"}
		got, un := x.expand(tt.in)
		if got != tt.want || !slices.Equal(un, tt.unresolved) {
			t.Errorf("expand(style %d, %q) = %q, %q; want %q, %q", tt.style, tt.in, got, un, tt.want, tt.unresolved)
		}
	}
}

func TestLoad(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	home := filepath.Join("testdata", "homes")
	tests := []struct {
		name    string
		path    string
		client  string
		servers []string
		err     string
	}{
		{name: "known cursor path", path: filepath.Join(home, "cursor", "home", ".cursor", "mcp.json"), client: "cursor", servers: []string{"browser", "remote-api", "legacy-sse"}},
		{name: "known codex path", path: filepath.Join(home, "codex", "home", ".codex", "config.toml"), client: "codex", servers: []string{"docs", "figma", "quoted.name", "dotted"}},
		{name: "vscode project file", path: filepath.Join(home, "vscode", "project", ".vscode", "mcp.json"), client: "vscode", servers: []string{"Perplexity", "unknown-var"}},
		{name: "continue block", path: filepath.Join(home, "continue", "home", ".continue", "mcpServers", "playwright.yaml"), client: "continue", servers: []string{"Browser search"}},
		{name: "goose by path", path: filepath.Join(home, "goose", "home", ".config", "goose", "config.yaml"), client: "goose", servers: []string{"developer", "github", "Remote SSE", "streamer"}},
		{name: "shape mcpServers", path: write("any.json", `{"mcpServers": {"x": {"command": "c", "args": ["${env:T}"]}}}`), client: "unknown", servers: []string{"x"}},
		{name: "shape servers", path: write("vs.json", `{"servers": {"v": {"url": "https://h/sse"}}}`), client: "vscode", servers: []string{"v"}},
		{name: "shape context_servers", path: write("z.json", `{"context_servers": {"z": {"command": "c"}}}`), client: "zed", servers: []string{"z"}},
		{name: "shape opencode", path: write("o.jsonc", `{"mcp": {"o": {"type": "local", "command": ["c"]}}}`), client: "opencode", servers: []string{"o"}},
		{name: "shape vscode settings", path: write("s.json", `{"mcp": {"servers": {"s": {"command": "c"}}}}`), client: "vscode", servers: []string{"s"}},
		{name: "shape goose", path: write("g.yml", "extensions:\n  g:\n    cmd: c\n"), client: "goose", servers: []string{"g"}},
		{name: "shape continue list", path: write("c.yaml", "mcpServers:\n  - name: c\n    command: c\n"), client: "continue", servers: []string{"c"}},
		{name: "shape codex", path: write("c.toml", "[mcp_servers.t]\ncommand = \"c\"\n"), client: "codex", servers: []string{"t"}},
		{name: "shape claude code", path: write("cc.json", `{"mcpServers": {}, "projects": {"/p": {"mcpServers": {"p": {"command": "c"}}}}}`), client: "claude-code", servers: []string{"p"}},
		{name: "extensionless toml", path: write("codexconf", "[mcp_servers.t]\ncommand = \"c\"\n"), client: "codex", servers: []string{"t"}},
		{name: "extensionless yaml", path: write("gooseconf", "extensions:\n  g:\n    cmd: c\n"), client: "goose", servers: []string{"g"}},
		{name: "extensionless garbage", path: write("junk", "{{{"), err: "junk:1:2: unexpected '{', want a quoted key"},
		{name: "nothing recognised", path: write("n.json", `{"foo": 1}`), err: "no MCP server declarations recognised"},
		{name: "syntax error names file and line", path: write("bad.json", "{\n\"mcpServers\": {,}\n}"), err: "bad.json:2:16: unexpected ','"},
		{name: "missing file", path: filepath.Join(tmp, "absent.json"), err: "absent.json: open"},
		{name: "bad entry keeps the good", path: write("mixed.json", "{\"mcpServers\": {\n\"ok\": {\"command\": \"c\"},\n\"bad\": {\"command\": 5, \"env\": []}}}"), client: "unknown", servers: []string{"ok"}, err: "mixed.json:3: server \"bad\": env: want an object of strings, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.path, Options{Home: "/home/u", OS: "linux", Getenv: func(string) (string, bool) { return "", false }})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Load(%s) error = %v, want %q", tt.path, err, tt.err)
				}
			} else if err != nil {
				t.Fatalf("Load(%s) error = %v", tt.path, err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
				if s.Client != tt.client {
					t.Errorf("Load(%s) client = %q, want %q", tt.path, s.Client, tt.client)
				}
			}
			if !slices.Equal(names, tt.servers) {
				t.Errorf("Load(%s) servers = %v, want %v", tt.path, names, tt.servers)
			}
		})
	}
}

func TestLoadUnknownReportsPlaceholders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(p, []byte(`{"mcpServers": {"x": {"command": "c", "env": {"K": "${env:T}"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p, Options{Home: "/h", OS: "linux", Getenv: func(string) (string, bool) { return "set", true }})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Env["K"] != "${env:T}" || !slices.Equal(got[0].Unresolved, []string{"${env:T}"}) {
		t.Errorf("Load(unknown) env = %v unresolved = %v, want the placeholder kept and reported", got[0].Env, got[0].Unresolved)
	}
}
