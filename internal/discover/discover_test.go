package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

type fixture struct {
	name string // directory under testdata/homes
	os   string
	env  map[string]string // values may use $FIXTURE
	cwd  bool              // read project files from <fixture>/project
}

var fixtures = []fixture{
	{name: "claude-desktop-darwin", os: "darwin", env: map[string]string{"GITHUB_TOKEN": "ghp_fromenv"}},
	{name: "claude-desktop-windows", os: "windows"},
	{name: "claude-desktop-linux", os: "linux"},
	{name: "claude-code", os: "linux", cwd: true, env: map[string]string{"SENTRY_TOKEN": "sntrys_abc", "HOME": "/home/dev"}},
	{name: "cursor", os: "linux", cwd: true, env: map[string]string{"EXAMPLE_KEY": "ek-123"}},
	{name: "vscode", os: "linux", cwd: true, env: map[string]string{"MY_PATH": "/opt/bin"}},
	{name: "windsurf", os: "darwin"},
	{name: "cline-roo", os: "linux", cwd: true, env: map[string]string{"OPENWEATHER_API_KEY": "ow", "ROO_TOKEN": "rt"}},
	{name: "continue", os: "linux", cwd: true},
	{name: "zed", os: "linux", cwd: true},
	{name: "gemini-cli", os: "linux", cwd: true, env: map[string]string{"DB_CONNECTION_STRING": "postgres://db", "GEMINI_MCP_TOKEN": "gmt"}},
	{name: "codex", os: "linux", env: map[string]string{"LOCAL_TOKEN": "lt", "FIGMA_OAUTH_TOKEN": "fot"}},
	{name: "opencode", os: "linux", cwd: true, env: map[string]string{"OPENCODE_EVERYTHING_KEY": "oek"}},
	{name: "goose", os: "linux"},
	{name: "errors", os: "linux"},
	{name: "windows", os: "windows", env: map[string]string{"APPDATA": "$FIXTURE/appdata", "PROGRAMDATA": "$FIXTURE/programdata", "USERNAME": "winuser"}},
}

func (f fixture) options(t *testing.T) (Options, string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "homes", f.name))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range f.env {
		env[k] = strings.ReplaceAll(v, "$FIXTURE", dir)
	}
	o := Options{
		Home:   filepath.Join(dir, "home"),
		OS:     f.os,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Root:   filepath.Join(dir, "root"),
	}
	if f.cwd {
		o.Cwd = filepath.Join(dir, "project")
	}
	return o, dir
}

// golden is the reviewed, exact outcome of discovery over one fixture home.
type golden struct {
	Servers []Server `json:"servers"`
	Files   []File   `json:"files"`
	Errors  []string `json:"errors"`
}

func TestDiscoverFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			o, dir := f.options(t)
			res, err := Discover(context.Background(), o)
			if err != nil {
				t.Fatalf("Discover(%s) error: %v", f.name, err)
			}
			g := golden{Servers: res.Servers, Files: res.Files, Errors: []string{}}
			for _, e := range res.Errors {
				g.Errors = append(g.Errors, e.Error())
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = bytes.ReplaceAll(got, []byte(dir), []byte("$FIXTURE"))
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", f.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Discover(%s) differs from %s (rerun with -update after review):\n%s", f.name, path, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + jsonInt(i)) }

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

// find returns the server with the given client and name.
func find(t *testing.T, servers []Server, client, name string) Server {
	t.Helper()
	for _, s := range servers {
		if s.Client == client && s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %s/%s among %d", client, name, len(servers))
	return Server{}
}

// TestDiscoverKeyFacts pins, independently of the golden files, the facts
// each client's decoder exists to get right.
func TestDiscoverKeyFacts(t *testing.T) {
	type want struct {
		client, name string
		transport    Transport
		command      string
		args         []string
		url          string
		line         int
		unresolved   []string
		env          map[string]string
		headers      map[string]string
		disabled     bool
		scope        Scope
	}
	cases := []struct {
		fixture string
		want    []want
	}{
		{"claude-desktop-darwin", []want{
			{client: "claude-desktop", name: "filesystem", transport: Stdio, command: "npx", args: []string{"-y", "@modelcontextprotocol/server-filesystem", "/Users/alice/Desktop"}, line: 3, scope: ScopeUser},
			// Claude Desktop does not expand placeholders: the literal stays and is not "unresolved".
			{client: "claude-desktop", name: "github", transport: Stdio, command: "docker", line: 11, env: map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}, scope: ScopeUser},
		}},
		{"claude-code", []want{
			{client: "claude-code", name: "sentry", transport: HTTP, url: "https://mcp.sentry.dev/mcp", line: 4, headers: map[string]string{"Authorization": "Bearer sntrys_abc"}, scope: ScopeUser},
			{client: "claude-code", name: "postgres", transport: Stdio, command: "/usr/local/bin/postgres-mcp", args: []string{"--dsn", "${DATABASE_URL}"}, line: 22, unresolved: []string{"${DATABASE_URL}"}, scope: ScopeLocal},
			{client: "claude-code", name: "linear", transport: SSE, url: "https://mcp.linear.app/sse", line: 3, scope: ScopeProject},
			{client: "claude-code", name: "local-tools", transport: Stdio, command: "./bin/tools", args: []string{"--root", "/home/dev/src", "--port", "8080"}, line: 7, scope: ScopeProject},
			{client: "claude-code", name: "company-internal", transport: HTTP, url: "https://mcp.example.com/mcp", line: 3, scope: ScopeManaged},
		}},
		{"cursor", []want{
			{client: "cursor", name: "remote-api", transport: HTTP, url: "https://api.example.com/mcp", line: 7, headers: map[string]string{"API_KEY": "ek-123"}, scope: ScopeUser},
			{client: "cursor", name: "legacy-sse", transport: SSE, url: "http://10.0.0.5:3000/sse", line: 13, scope: ScopeUser},
			{client: "cursor", name: "proj", transport: Stdio, command: "python", line: 3, unresolved: []string{"${env:PROJ_TOKEN}"}, scope: ScopeProject},
		}},
		{"vscode", []want{
			{client: "vscode", name: "fetch", transport: Stdio, command: "uvx", args: []string{"mcp-server-fetch"}, line: 8},
			{client: "vscode", name: "github", transport: HTTP, line: 3, unresolved: []string{"${input:github_pat}"}, headers: map[string]string{"Authorization": "Bearer ${input:github_pat}"}},
			{client: "vscode", name: "Perplexity", transport: Stdio, command: "npx", line: 12, unresolved: []string{"${input:perplexity-key}"}, env: map[string]string{"PERPLEXITY_API_KEY": "${input:perplexity-key}", "PATH_HINT": "/opt/bin"}, scope: ScopeProject},
			{client: "vscode", name: "unknown-var", transport: Stdio, command: "${config:mcp.binary}", args: []string{"project"}, line: 23, unresolved: []string{"${config:mcp.binary}"}, scope: ScopeProject},
			{client: "vscode", name: "jira", transport: SSE, url: "https://jira.example.com/sse", line: 1},
		}},
		{"windsurf", []want{
			{client: "windsurf", name: "brave", transport: Stdio, line: 3, disabled: true, unresolved: []string{"${env:BRAVE_API_KEY}"}},
			{client: "windsurf", name: "figma", transport: HTTP, url: "https://mcp.figma.com/mcp", line: 9, unresolved: []string{"${file:/home/w/.figma-token}"}},
		}},
		{"cline-roo", []want{
			{client: "cline", name: "weather", transport: Stdio, line: 3, env: map[string]string{"OPENWEATHER_API_KEY": "${OPENWEATHER_API_KEY}"}},
			{client: "cline", name: "remote", transport: SSE, line: 10},
			{client: "cline", name: "streamer", transport: HTTP, line: 14},
			{client: "cline", name: "in-cursor", transport: Stdio, command: "uvx", line: 1},
			{client: "roo", name: "puppeteer", transport: Stdio, line: 3, env: map[string]string{"TOKEN": "rt"}},
			{client: "roo", name: "roo-http", transport: HTTP, line: 9},
		}},
		{"continue", []want{
			{client: "continue", name: "SQLite", transport: Stdio, command: "npx", args: []string{"-y", "mcp-sqlite", "/home/dev/db.sqlite"}, line: 6},
			{client: "continue", name: "Remote Docs", transport: HTTP, line: 15, unresolved: []string{"${{ secrets.DOCS_TOKEN }}"}},
			{client: "continue", name: "experimental.modelContextProtocolServers[0]", transport: Stdio, command: "uvx", line: 5},
			{client: "continue", name: "Browser search", transport: Stdio, command: "npx", line: 5},
			{client: "continue", name: "time", transport: Stdio, command: "uvx", line: 3, unresolved: []string{"${{ inputs.tz }}"}, scope: ScopeProject},
		}},
		{"zed", []want{
			{client: "zed", name: "mcp-server-context7", transport: Stdio, command: "npx", line: 6},
			{client: "zed", name: "old-style", transport: Stdio, command: "/usr/local/bin/old-server", args: []string{"--stdio"}, line: 13, env: map[string]string{"A": "b"}},
			{client: "zed", name: "remote", transport: HTTP, url: "https://zed.example.com/mcp", line: 21},
			{client: "zed", name: "postgres-context-server", transport: None, line: 25},
			{client: "zed", name: "proj-zed", transport: Stdio, line: 1, disabled: true, scope: ScopeProject},
		}},
		{"gemini-cli", []want{
			{client: "gemini-cli", name: "pythonTools", transport: Stdio, command: "python", line: 4, unresolved: []string{"${EXTERNAL_API_KEY}"}, env: map[string]string{"DATABASE_URL": "postgres://db", "API_KEY": "${EXTERNAL_API_KEY}"}},
			{client: "gemini-cli", name: "sseServer", transport: SSE, line: 14},
			{client: "gemini-cli", name: "httpServer", transport: HTTP, line: 17, headers: map[string]string{"Authorization": "Bearer gmt"}},
			{client: "gemini-cli", name: "corp", transport: HTTP, line: 1, scope: ScopeManaged},
			{client: "gemini-cli", name: "proj-gem", transport: Stdio, line: 3, scope: ScopeProject},
		}},
		{"codex", []want{
			{client: "codex", name: "docs", transport: Stdio, command: "npx", args: []string{"-y", "mcp-server-docs@1.4.0"}, line: 4, env: map[string]string{"DOCS_API_KEY": "dk-live-123", "LOG": "info", "LOCAL_TOKEN": "lt"}},
			{client: "codex", name: "figma", transport: HTTP, line: 11, unresolved: []string{"$FIGMA_ORG"}, headers: map[string]string{"Authorization": "Bearer fot", "X-Figma-Region": "us-east-1"}},
			{client: "codex", name: "quoted.name", transport: Stdio, command: "/opt/bin/server", args: []string{"--a", "--b"}, line: 17, disabled: true},
			{client: "codex", name: "dotted", transport: Stdio, command: "dotted-server", line: 25, env: map[string]string{"FOO": "bar"}},
		}},
		{"opencode", []want{
			{client: "opencode", name: "everything", transport: Stdio, command: "npx", args: []string{"-y", "@modelcontextprotocol/server-everything@2025.9.25"}, line: 5, env: map[string]string{"API_KEY": "oek"}},
			{client: "opencode", name: "context7", transport: HTTP, line: 13, unresolved: []string{"{file:~/.secrets/context7}"}},
			{client: "opencode", name: "proj-local", transport: Stdio, command: "bun", args: []string{"x", "my-mcp"}, line: 3, disabled: true, scope: ScopeProject},
		}},
		{"goose", []want{
			{client: "goose", name: "developer", transport: None, line: 4},
			{client: "goose", name: "github", transport: Stdio, command: "npx", args: []string{"-y", "@modelcontextprotocol/server-github"}, line: 10, unresolved: []string{"$GITHUB_PERSONAL_ACCESS_TOKEN"}},
			{client: "goose", name: "Remote SSE", transport: SSE, url: "http://localhost:8000/sse", line: 22, disabled: true},
			{client: "goose", name: "streamer", transport: HTTP, line: 27, headers: map[string]string{"X-Key": "plain-value"}},
		}},
		{"windows", []want{
			{client: "vscode", name: "win-fs", transport: Stdio, command: "npx.cmd", line: 3},
			{client: "zed", name: "win-zed", transport: Stdio, command: `C:\tools\server.exe`, line: 1},
			{client: "goose", name: "win-goose", transport: Stdio, command: "uvx.exe", line: 2},
			{client: "cursor", name: "win-cursor", transport: Stdio, command: "cmd", line: 1, env: map[string]string{"K": "winuser"}},
			{client: "claude-code", name: "win-managed", transport: HTTP, line: 1, scope: ScopeManaged},
		}},
	}
	byName := map[string]fixture{}
	for _, f := range fixtures {
		byName[f.name] = f
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			o, _ := byName[tc.fixture].options(t)
			res, err := Discover(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 0 {
				t.Errorf("Discover(%s) errors = %v, want none", tc.fixture, res.Errors)
			}
			for _, w := range tc.want {
				s := find(t, res.Servers, w.client, w.name)
				check := func(field string, got, want any) {
					t.Helper()
					gj, _ := json.Marshal(got)
					wj, _ := json.Marshal(want)
					if string(gj) != string(wj) {
						t.Errorf("%s/%s %s = %s, want %s", w.client, w.name, field, gj, wj)
					}
				}
				check("transport", s.Transport, w.transport)
				check("line", s.Line, w.line)
				check("disabled", s.Disabled, w.disabled)
				check("unresolved", s.Unresolved, w.unresolved)
				if w.command != "" {
					check("command", s.Command, w.command)
				}
				if w.args != nil {
					check("args", s.Args, w.args)
				}
				if w.url != "" {
					check("url", s.URL, w.url)
				}
				if w.env != nil {
					check("env", s.Env, w.env)
				}
				if w.headers != nil {
					check("headers", s.Headers, w.headers)
				}
				scope := w.scope
				if scope == "" {
					scope = ScopeUser
				}
				check("scope", s.Scope, scope)
			}
		})
	}
}

func TestDiscoverErrorsKeepGoing(t *testing.T) {
	o, dir := fixture{name: "errors", os: "linux"}.options(t)
	res, err := Discover(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range res.Servers {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"good"}) {
		t.Errorf("servers = %v, want [good]", names)
	}
	wantErrs := []string{
		".config/Claude/claude_desktop_config.json:4: server \"no-command\": neither command nor url is set",
		".config/Claude/claude_desktop_config.json:5: server \"bad-args\": args: want an array of strings, got string",
		".config/Claude/claude_desktop_config.json:6: server \"bad-type\": unknown transport type \"websocket\"",
		".config/Claude/claude_desktop_config.json:7: server \"not-object\": mcpServers.not-object: want an object, got string",
		".cursor/mcp.json:5:7: unexpected '\"' after value of \"command\", want ',' or '}'",
		".gemini/settings.json:1: top level: want an object, got array",
		".codex/config.toml:2:17: expected",
		".config/goose/config.yaml:",
	}
	var got []string
	for _, e := range res.Errors {
		got = append(got, strings.TrimPrefix(e.Error(), filepath.Join(dir, "home")+string(filepath.Separator)))
	}
	for _, w := range wantErrs {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("errors = %q, want one starting %q", got, w)
		}
	}
	if len(got) != len(wantErrs) {
		t.Errorf("got %d errors, want %d: %q", len(got), len(wantErrs), got)
	}
}

// TestClientsInDocs keeps the discovery table of docs/scan.md in step with
// the clients discovery knows.
func TestClientsInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "scan.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Clients {
		if !strings.Contains(string(doc), "(`"+c+"`)") {
			t.Errorf("docs/scan.md does not list client %s", c)
		}
	}
}

func TestCandidatesCoverClients(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		o, err := Options{Home: "/h", OS: goos, Cwd: "/p", Getenv: func(string) (string, bool) { return "", false }}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		d := newDirs(&o)
		seen := map[string]bool{}
		for _, c := range d.candidates(&o) {
			if !slices.Contains(Clients, c.client) {
				t.Errorf("%s: candidate %s has client %q missing from Clients", goos, c.path, c.client)
			}
			if c.shape == nil {
				t.Errorf("%s: candidate %s has no shape", goos, c.path)
			}
			seen[c.client] = true
		}
		for _, c := range Clients {
			if !seen[c] {
				t.Errorf("%s: no candidate path for client %s", goos, c)
			}
		}
	}
}
