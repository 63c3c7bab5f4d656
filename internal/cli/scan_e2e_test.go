package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/demo"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/report"
	"mcpwarden/internal/testbin"
)

// mcpwarden runs the built binary in dir and returns its exit code,
// stdout and stderr.
func mcpwarden(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testbin.Path(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if xe, ok := err.(*exec.ExitError); ok {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func decodeReport(t *testing.T, out string) *report.Report {
	t.Helper()
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return &r
}

func findingsOf(r *report.Report, rule string) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.AllFindings() {
		if f.RuleID == rule {
			out = append(out, f)
		}
	}
	return out
}

// TestDemoFindsSevenClasses runs `mcpwarden demo`, the README's first
// command: every one of the seven classes must be found, with evidence.
func TestDemoFindsSevenClasses(t *testing.T) {
	classes, wantCode := sevenClasses, 0
	code, out, stderr := mcpwarden(t, t.TempDir(), nil, "demo", "--format", "json")
	r := decodeReport(t, out)
	for _, c := range classes {
		found := false
		for _, f := range r.AllFindings() {
			if f.Category == c && len(f.Evidence) > 0 && (f.Evidence[0].Text != "" || f.Evidence[0].Note != "") {
				found = true
			}
		}
		if !found {
			t.Errorf("demo report has no %s finding with evidence", c)
		}
	}
	if code != wantCode {
		t.Errorf("mcpwarden demo = exit %d, want %d\nstderr:\n%s", code, wantCode, stderr)
	}
	// The text form ends with one line of evidence per class.
	code, out, _ = mcpwarden(t, t.TempDir(), nil, "demo", "--color", "never")
	for _, c := range classes {
		if !strings.Contains(out, "✓ "+string(c)) {
			t.Errorf("demo summary has no ✓ line for %s", c)
		}
	}
	if code != wantCode || (wantCode == 0 && !strings.Contains(out, "All seven classes found")) {
		t.Errorf("mcpwarden demo = exit %d, summary:\n%s", code, out[max(0, len(out)-1500):])
	}
	// Then the gateway stops every one of the seven, naming the rule.
	gw := out[strings.Index(out, "THE SAME SERVER BEHIND THE GATEWAY"):]
	for _, c := range classes {
		if !strings.Contains(gw, "✓ stopped   "+string(c)) {
			t.Errorf("the gateway act shows no stopped %s attack", c)
		}
	}
	for _, rule := range []string{"tools.poisoned", "pin.changed", "args.command", "args.url", "args.path_root", "args.findings", "output.indirect_prompt_injection", "access.own-profile-only"} {
		if !strings.Contains(gw, "(rule "+rule+")") {
			t.Errorf("the gateway act does not show rule %s", rule)
		}
	}
	if strings.Contains(gw, "GOT THROUGH") || !strings.Contains(gw, "Every attack was stopped") || !strings.Contains(gw, "hash chain verifies") {
		t.Errorf("gateway act:\n%s", gw)
	}
}

// TestDemoPolicyMatchesExample keeps the policy `mcpwarden demo` runs the
// same as examples/demo.yaml, which users run by hand.
func TestDemoPolicyMatchesExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	example := string(b)
	example = example[strings.Index(example, "\npolicy:\n")+1:]
	embedded := demo.Policy("/tmp/mcpwarden-demo")
	embedded = embedded[strings.Index(embedded, "policy:\n"):]
	if example != embedded {
		t.Errorf("internal/demo/policy.yaml and the policy of examples/demo.yaml differ:\n--- example\n%s\n--- embedded\n%s", example, embedded)
	}
}

func TestScanExitCodes(t *testing.T) {
	dir := t.TempDir()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcp"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer locked.Close()
	defs := filepath.Join(dir, "tools.json")
	os.WriteFile(defs, []byte(`{"tools":[{"name":"read_file","description":"Read a file.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}},"additionalProperties":false}}]}`), 0o644)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"bad command", []string{"scan", "--", filepath.Join(dir, "no-such-server")}, ExitUnscannable, "NOT SCANNED", "could not be scanned"},
		{"timeout", []string{"scan", "--timeout", "1s", "--", "/bin/sleep", "30"}, ExitUnscannable, "timed out after 1s", "could not be scanned"},
		{"needs auth", []string{"scan", locked.URL + "/mcp"}, ExitUnscannable, "needs authentication: HTTP 401", ""},
		{"findings below fail-on", []string{"scan", "--fail-on", "high", defs}, ExitOK, "1 static", ""},
		{"findings at fail-on", []string{"scan", "--fail-on", "medium", defs}, ExitFailure, "schema.unconstrained_path", "findings at or above medium"},
		{"fail-on none", []string{"scan", "--fail-on", "none", defs}, ExitOK, "", ""},
		{"unknown format", []string{"scan", "--format", "xml", defs}, ExitUsage, "", `--format "xml"`},
		{"missing target", []string{"scan", filepath.Join(dir, "nope.json")}, ExitUsage, "", "no such file"},
		{"bad fail-on", []string{"scan", "--fail-on", "severe", defs}, ExitUsage, "", "--fail-on"},
		{"missing lockfile", []string{"scan", "--lockfile", filepath.Join(dir, "x.lock"), defs}, ExitUsage, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := mcpwarden(t, dir, nil, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("mcpwarden %q = exit %d, want %d with stdout ⊇ %q, stderr ⊇ %q\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.code, tt.wantStdout, tt.wantStderr, out, stderr)
			}
		})
	}
	// A server that is not scanned is never counted clean, in any format.
	_, out, _ := mcpwarden(t, dir, nil, "scan", "--format", "json", "--", filepath.Join(dir, "no-such-server"))
	r := decodeReport(t, out)
	if len(r.Servers) != 1 || r.Servers[0].Status != report.NotScanned || r.Servers[0].Reason == "" {
		t.Errorf("report servers = %+v, want one not_scanned with a reason", r.Servers)
	}
}

func TestScanSuppressions(t *testing.T) {
	dir := t.TempDir()
	defs := filepath.Join(dir, "files.json")
	os.WriteFile(defs, []byte(`[{"name":"write_file","description":"Write a file.","inputSchema":{"type":"object","properties":{"path":{"type":"string"},"content":{"type":"string"}},"additionalProperties":true}}]`), 0o644)
	sup := filepath.Join(dir, "suppress.yaml")
	os.WriteFile(sup, []byte(`version: 1
suppressions:
  - rule: schema.open_additional_properties
    tool: write_file
    justification: the vendor's schema; tracked in SEC-1
  - rule: schema.unconstrained_path
    server: files
    justification: accepted until the jail lands
    expires: 2020-01-31
`), 0o644)
	code, out, stderr := mcpwarden(t, dir, nil, "scan", "--format", "json", "--fail-on", "none", "--baseline", sup, defs)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := decodeReport(t, out)
	if r.Suppressed != 1 || len(findingsOf(r, "schema.open_additional_properties")) != 0 {
		t.Errorf("suppressed = %d with %v left, want the live suppression applied", r.Suppressed, findingsOf(r, "schema.open_additional_properties"))
	}
	if len(findingsOf(r, "schema.unconstrained_path")) != 1 {
		t.Errorf("the expired suppression still hides schema.unconstrained_path")
	}
	exp := findingsOf(r, "suppress.expired")
	if len(exp) != 1 || !strings.Contains(exp[0].Title, "expired on 2020-01-31") || !strings.Contains(stderr, "suppression expired on 2020-01-31") {
		t.Errorf("expired = %v, stderr %q; want one suppress.expired finding and a warning", exp, stderr)
	}
	// A baseline written now accepts everything that is left.
	base := filepath.Join(dir, "baseline.yaml")
	if code, _, stderr := mcpwarden(t, dir, nil, "scan", "--fail-on", "none", "--write-baseline", base, "--justification", "adopted 2026-11", defs); code != 0 {
		t.Fatalf("write baseline: exit %d\n%s", code, stderr)
	}
	code, out, _ = mcpwarden(t, dir, nil, "scan", "--format", "json", "--fail-on", "info", "--baseline", base, defs)
	if r := decodeReport(t, out); code != 0 || len(r.AllFindings()) != 0 || r.Suppressed == 0 {
		t.Errorf("scan with baseline = exit %d, %d findings, %d suppressed; want 0, none, some", code, len(r.AllFindings()), r.Suppressed)
	}
	if code, _, stderr := mcpwarden(t, dir, nil, "scan", "--write-baseline", base, defs); code != ExitUsage || !strings.Contains(stderr, "--justification") {
		t.Errorf("--write-baseline without --justification = exit %d, %s", code, stderr)
	}
}

// startDemoServer runs `mcpwarden demo-server --http` with a kept
// workspace and returns its URL.
func startDemoServer(t *testing.T, workspace string) string {
	t.Helper()
	cmd := exec.Command(testbin.Path(t), "demo-server", "--http", "127.0.0.1:0", "--workspace", workspace)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
	}()
	select {
	case u := <-line:
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("demo-server did not print its URL")
	}
	return ""
}

// TestPinRugPullScan pins the demo server, lets it pull the rug, and
// checks that scan reports the change as a semantic diff and that
// `pin approve` accepts it.
func TestPinRugPullScan(t *testing.T) {
	dir := t.TempDir()
	u := startDemoServer(t, filepath.Join(dir, "ws"))
	lock := filepath.Join(dir, "mcpwarden.lock")
	code, out, stderr := mcpwarden(t, dir, nil, "pin", u)
	if code != 0 || !strings.Contains(out, "pinned 127.0.0.1:") || !strings.Contains(stderr, "changed its definitions between two listings") {
		t.Fatalf("pin = exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("pin wrote no mcpwarden.lock in the working directory: %v", err)
	}
	code, out, stderr = mcpwarden(t, dir, nil, "scan", "--format", "json", "--fail-on", "none", u)
	if code != 0 {
		t.Fatalf("scan = exit %d\n%s", code, stderr)
	}
	changed := findingsOf(decodeReport(t, out), "rug_pull.tool_changed")
	if len(changed) != 1 || changed[0].Tool != demo.ToolGetWeather {
		t.Fatalf("rug_pull.tool_changed = %v, want one for get_weather", changed)
	}
	ev := changed[0].Evidence[0]
	if ev.Field != "description" || ev.Previous != demo.WeatherHonest || !strings.Contains(ev.Text, "<IMPORTANT>") || !strings.Contains(ev.Note, "description changed") {
		t.Errorf("evidence = %+v, want the pinned and the current description", ev)
	}
	server := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/mcp")
	code, out, stderr = mcpwarden(t, dir, nil, "pin", "approve", server+"/get_weather", u)
	if code != 0 || !strings.Contains(out, "description changed") {
		t.Fatalf("pin approve = exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	_, out, _ = mcpwarden(t, dir, nil, "scan", "--format", "json", "--fail-on", "none", u)
	if c := findingsOf(decodeReport(t, out), "rug_pull.tool_changed"); len(c) != 0 {
		t.Errorf("after approve, rug_pull.tool_changed = %v, want none", c)
	}
}

// TestScanRealNPMServers scans the real npm reference servers, launched
// in the sandbox with read-only access to test/peers.
func TestScanRealNPMServers(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("SKIP: node is not installed")
	}
	peers := peersDir()
	modules := filepath.Join(peers, "node_modules", "@modelcontextprotocol")
	if _, err := os.Stat(filepath.Join(modules, "server-everything")); err != nil {
		if os.Getenv("MCPWARDEN_REQUIRE_PEERS") == "1" {
			t.Fatalf("npm peers missing: %v", err)
		}
		t.Skip("SKIP: run 'cd test/peers && npm ci'")
	}
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "note.txt"), []byte("hello"), 0o644)
	tests := []struct {
		name      string
		args      []string
		server    string
		minTools  int
		tools     map[string]report.Capability
		wantRules []string
	}{
		{"server-everything", []string{"--ro", peers, "--", "node", filepath.Join(modules, "server-everything", "dist", "index.js"), "stdio"},
			"mcp-servers/everything", 10, map[string]report.Capability{"get-env": report.CapSecrets}, []string{"supply_chain.package_source"}},
		{"server-filesystem", []string{"--ro", peers, "--ro", data, "--", "node", filepath.Join(modules, "server-filesystem", "dist", "index.js"), data},
			"secure-filesystem-server", 10, map[string]report.Capability{"read_text_file": report.CapFilesystem, "write_file": report.CapFilesystem}, []string{"schema.unconstrained_path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := mcpwarden(t, t.TempDir(), nil, append([]string{"scan", "--format", "json", "--fail-on", "none"}, tt.args...)...)
			r := decodeReport(t, out)
			if code != 0 || len(r.Servers) != 1 || r.Servers[0].Status != report.Scanned {
				t.Fatalf("scan = exit %d, servers %+v\nstderr:\n%s", code, r.Servers, stderr)
			}
			s := r.Servers[0]
			if s.Info.Name != tt.server || len(s.Tools) < tt.minTools {
				t.Errorf("server %q with %d tools, want %q with at least %d", s.Info.Name, len(s.Tools), tt.server, tt.minTools)
			}
			for tool, c := range tt.tools {
				ok := false
				for _, x := range s.Tools {
					if x.Name == tool {
						for _, cc := range x.Capabilities {
							ok = ok || cc == c
						}
					}
				}
				if !ok {
					t.Errorf("tool %s is not classified %s", tool, c)
				}
			}
			for _, rule := range tt.wantRules {
				if len(findingsOf(r, rule)) == 0 {
					t.Errorf("no %s finding", rule)
				}
			}
		})
	}
}

// TestScanDiscoveredConfigs scans with no target: the client configs of
// a fixture home directory and project.
func TestScanDiscoveredConfigs(t *testing.T) {
	bin := testbin.Path(t)
	home, project := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(home, ".cursor"), 0o755)
	os.MkdirAll(filepath.Join(project, ".cursor"), 0o755)
	os.WriteFile(filepath.Join(home, ".cursor", "mcp.json"), []byte(`{
  "mcpServers": {
    "demo": {"command": "`+bin+`", "args": ["demo-server"]},
    "crm": {"url": "http://crm.example.com/mcp", "headers": {"Authorization": "Bearer ${env:CRM_TOKEN_UNSET}"}}
  }
}
`), 0o644)
	os.WriteFile(filepath.Join(project, ".cursor", "mcp.json"), []byte(`{"mcpServers": {"demo-copy": {"command": "`+bin+`", "args": ["demo-server"]}}}`), 0o644)
	// CRM_TOKEN_UNSET stays unset: crm must not be dialed (it is not on
	// loopback), and the scan must say why it was not.
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	if _, set := os.LookupEnv("CRM_TOKEN_UNSET"); set {
		t.Fatal("CRM_TOKEN_UNSET is set in the test environment")
	}
	code, out, stderr := mcpwarden(t, project, env, "scan", "--format", "json")
	r := decodeReport(t, out)
	if code != ExitUnscannable {
		t.Errorf("exit %d, want 3 (crm cannot be started without its token)\nstderr:\n%s", code, stderr)
	}
	byName := map[string]report.Server{}
	for _, s := range r.Servers {
		byName[s.Name] = s
	}
	demoSrv, crm, cp := byName["demo"], byName["crm"], byName["demo-copy"]
	if demoSrv.Status != report.Scanned || demoSrv.Source.Client != "cursor" || demoSrv.Source.Line != 3 || len(demoSrv.Tools) != 12 {
		t.Errorf("demo = %s %q from %+v with %d tools; want scanned from cursor line 3 with 12 tools", demoSrv.Status, demoSrv.Reason, demoSrv.Source, len(demoSrv.Tools))
	}
	if cp.Status != report.Scanned || !strings.HasSuffix(cp.Source.Path, filepath.Join(".cursor", "mcp.json")) {
		t.Errorf("project server = %+v, want scanned from the project's .cursor/mcp.json", cp.Source)
	}
	if crm.Status != report.NotScanned || !strings.Contains(crm.Reason, "unresolved") {
		t.Errorf("crm = %s %q, want not scanned for its unresolved token", crm.Status, crm.Reason)
	}
	if f := findingsOf(r, "transport.plain_http"); len(f) != 1 || f[0].Server != "crm" {
		t.Errorf("transport.plain_http = %v, want one on crm from the config alone", f)
	}
	// Both copies of the demo belong to Cursor: their tools collide.
	if f := findingsOf(r, "shadow.duplicate_tool_name"); len(f) == 0 {
		t.Errorf("no duplicate-name finding across the two Cursor servers")
	}
	// SARIF points into the config file.
	_, out, _ = mcpwarden(t, project, env, "scan", "--format", "sarif")
	if !strings.Contains(out, filepath.ToSlash(filepath.Join(home, ".cursor", "mcp.json"))) {
		t.Errorf("SARIF has no location in the Cursor config")
	}
}

// TestScanWithCredentials scans an HTTP server that requires a bearer
// token: without it the server is not scanned, with it (from the
// environment, or as a header flag) it is, and the auth probes find it
// does require credentials.
func TestScanWithCredentials(t *testing.T) {
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcptest.NewServer("guarded") }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="`+"http://"+r.Host+`/.well-known/oauth-protected-resource/mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u := srv.URL + "/mcp"
	dir := t.TempDir()
	code, out, _ := mcpwarden(t, dir, nil, "scan", "-f", "json", u)
	if r := decodeReport(t, out); code != ExitUnscannable || r.Servers[0].Status != report.NotScanned || len(findingsOf(r, "auth.prm_missing")) != 1 {
		t.Errorf("without credentials: exit %d, %+v", code, r.Servers)
	}
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{[]string{"MCPWARDEN_BEARER_TOKEN=s3cret"}, nil},
		{[]string{"MY_TOKEN=s3cret"}, []string{"--bearer-env", "MY_TOKEN"}},
		{[]string{"MY_TOKEN=s3cret"}, []string{"-H", "Authorization: Bearer ${env:MY_TOKEN}"}},
	} {
		code, out, stderr := mcpwarden(t, dir, c.env, append(append([]string{"scan", "-f", "json", "--fail-on", "none"}, c.args...), u)...)
		r := decodeReport(t, out)
		if code != 0 || r.Servers[0].Status != report.Scanned || len(r.Servers[0].Tools) == 0 {
			t.Errorf("scan %v with %v = exit %d, %+v\n%s", c.args, c.env, code, r.Servers, stderr)
		}
		if f := findingsOf(r, "auth.unauthenticated"); len(f) != 0 {
			t.Errorf("auth.unauthenticated on a server that requires a token: %v", f)
		}
	}
}
