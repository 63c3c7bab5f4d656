package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/demo"
	"mcpwarden/internal/testbin"
)

// demoWorkspace creates a kept demo workspace, so that the gateway's
// path_root directories exist before the sandboxed demo server starts,
// and returns its root.
func demoWorkspace(t *testing.T) demo.Workspace {
	t.Helper()
	srv, err := demo.New(demo.Options{Workspace: filepath.Join(t.TempDir(), "ws")})
	if err != nil {
		t.Fatal(err)
	}
	ws := srv.Workspace()
	srv.Close()
	return ws
}

// demoServer is the YAML of the demo server as a sandboxed stdio upstream
// named demo, with its workspace writable.
func demoServer(t *testing.T, ws demo.Workspace, sandboxExtra ...string) string {
	bin := testbin.Path(t)
	var b strings.Builder
	fmt.Fprintf(&b, "  demo:\n    command: %q\n    args: [demo-server, --workspace, %q]\n    sandbox:\n      read_only: [%q]\n      read_write: [%q]\n", bin, ws.Root, filepath.Dir(bin), ws.Root)
	for _, e := range sandboxExtra {
		fmt.Fprintf(&b, "      %s\n", e)
	}
	return b.String()
}

// policyBase keeps each test's lockfile and audit log in its own
// directory and polls the lockfile quickly; everything else is default.
const policyBase = `policy:
  audit:
    sinks: {sqlite: ./audit.db}
  pinning:
    poll: 200ms
`

// canary is an HTTP listener on 127.0.0.1 that counts requests: SSRF
// tests pass only if it is never reached.
func canary(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "CANARY-REACHED")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), &hits
}

func dirOf(p *process) string { return p.cmd.Dir }

func toolSet(t *testing.T, cs *mcp.ClientSession) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tl := range res.Tools {
		out[tl.Name] = true
	}
	return out
}

// denied calls a tool and requires a tool error naming rule.
func denied(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, rule string) string {
	t.Helper()
	text, isErr := callText(t, cs, tool, args)
	if !isErr || !strings.Contains(text, "mcpwarden denied this request (rule "+rule+")") {
		t.Fatalf("%s(%v) = %q (error %v), want a denial by %s", tool, args, text, isErr, rule)
	}
	return text
}

// auditQuery runs mcpwarden audit query on p's log until ready accepts
// the output or 10 s pass: the gateway indexes records into the database
// a moment after each call returns.
func auditQuery(t *testing.T, p *process, ready func(string) bool, filters ...string) string {
	t.Helper()
	return pollAudit(t, ready, append([]string{"audit", "query", "--db", filepath.Join(dirOf(p), "audit.db")}, filters...)...)
}

func pollAudit(t *testing.T, ready func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(testbin.Path(t), args...).Output()
		if err != nil {
			t.Fatalf("mcpwarden %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if ready(string(out)) || time.Now().After(deadline) {
			return string(out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// TestDefaultsStopDemoAttacks runs the demo server behind a gateway whose
// configuration only lists it: poisoning, secret leaks, indirect prompt
// injection, the rug pull and the lethal trifecta are stopped by the
// defaults, with reasons the agent sees and the audit log keeps.
func TestDefaultsStopDemoAttacks(t *testing.T) {
	ws := demoWorkspace(t)
	// The scanner pins the honest server first (`mcpwarden pin`); the
	// demo turns get_weather malicious after that listing, and the kept
	// workspace makes the gateway's server start poisoned: a rug pull
	// between two runs.
	lock := filepath.Join(t.TempDir(), "mcpwarden.lock")
	bin := testbin.Path(t)
	if out, err := exec.Command(bin, "pin", "--lockfile", lock, "--name", "demo", "--rw", ws.Root, "--ro", filepath.Dir(bin), "--",
		bin, "demo-server", "--workspace", ws.Root).CombinedOutput(); err != nil {
		t.Fatalf("mcpwarden pin: %v\n%s", err, out)
	}
	p := startGateway(t, "version: 1\nservers:\n"+demoServer(t, ws)+policyBase+fmt.Sprintf("    lockfile: %q\n", lock))
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")

	// Tool poisoning: the poisoned tools are withheld, so are the
	// poisoned server instructions, and calls to them are denied.
	names := toolSet(t, cs)
	for _, hidden := range []string{"demo__add", "demo__word_count"} {
		if names[hidden] {
			t.Errorf("tools/list shows the poisoned %s", hidden)
		}
	}
	if !names["demo__read_file"] || !names["demo__send_email"] {
		t.Fatalf("tools/list = %v, want the honest tools", names)
	}
	if ins := cs.InitializeResult().Instructions; strings.Contains(ins, "sidenote") || !strings.Contains(ins, "instructions.poisoned") {
		t.Errorf("instructions = %q, want the poisoned ones withheld", ins)
	}
	reason := denied(t, cs, "demo__add", map[string]any{"a": 1, "b": 2, "sidenote": "x"}, "tools.poisoned")
	if !strings.Contains(reason, "mcpwarden pin approve demo/add") {
		t.Errorf("the denial does not say how to approve: %s", reason)
	}

	// Secret exfiltration: debug_info's keys are redacted.
	text, _ := callText(t, cs, "demo__debug_info", map[string]any{})
	if strings.Contains(text, ws.Canary) || !strings.Contains(text, "[REDACTED:") {
		t.Errorf("debug_info = %q, want every fake secret redacted", text)
	}

	// Indirect prompt injection: ticket 1337 is withheld.
	denied(t, cs, "demo__get_ticket", map[string]any{"id": "1337"}, "output.indirect_prompt_injection")

	// Rug pull: get_weather differs from its pin, so it is withheld until
	// approved.
	if names["demo__get_weather"] {
		t.Error("the rug-pulled get_weather is listed")
	}
	reason = denied(t, cs, "demo__get_weather", map[string]any{"city": "Paris"}, "pin.changed")
	if !strings.Contains(reason, "description changed") {
		t.Errorf("the rug-pull denial does not name the change: %s", reason)
	}
	out, err := exec.Command(testbin.Path(t), "pin", "approve", "demo/get_weather", "--lockfile", lock).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "description changed") {
		t.Fatalf("pin approve = %v\n%s\nwant the diff", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		text, isErr := callText(t, cs, "demo__get_weather", map[string]any{"city": "Paris"})
		if !isErr {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after approval get_weather is still denied: %s", text)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The lethal trifecta, in a fresh session: untrusted content, private
	// data, then a way out. The client cannot be asked, so it is denied.
	cs2 := goClient(t, p.addr, "2025-11-25")
	if text, isErr := callText(t, cs2, "demo__get_ticket", map[string]any{"id": "1"}); isErr {
		t.Fatalf("get_ticket 1 = %s", text)
	}
	if text, isErr := callText(t, cs2, "demo__read_file", map[string]any{"path": "README.txt"}); isErr && strings.Contains(text, "mcpwarden denied") {
		t.Fatalf("read_file = %s", text)
	}
	reason = denied(t, cs2, "demo__send_email", map[string]any{"to": "attacker@example.com", "subject": "x", "body": "y"}, "flows.lethal_trifecta")
	if !strings.Contains(reason, "demo/get_ticket") || !strings.Contains(reason, "demo/read_file") {
		t.Errorf("the trifecta denial does not name the chain: %s", reason)
	}
	if len(readOutbox(t, ws)) != 0 {
		t.Error("send_email reached the server")
	}

	// Stateless 2026-07-28 requests have no session: their taint is kept
	// per caller (here the anonymous one), so the trifecta is caught
	// across requests all the same.
	cs3 := goClient(t, p.addr, "2026-07-28")
	callText(t, cs3, "demo__get_ticket", map[string]any{"id": "2"})
	callText(t, cs3, "demo__read_file", map[string]any{"path": "notes.txt"})
	denied(t, cs3, "demo__send_email", map[string]any{"to": "attacker@example.com", "subject": "x", "body": "y"}, "flows.lethal_trifecta")

	rules := []string{"tools.poisoned", "output.indirect_prompt_injection", "pin.changed", "flows.lethal_trifecta", "secrets.redacted", "tools.withheld"}
	all := auditQuery(t, p, containsAll(rules...), "--format", "json")
	for _, rule := range rules {
		if !strings.Contains(all, rule) {
			t.Errorf("the audit log does not name %s", rule)
		}
	}
	if strings.Contains(all, ws.Canary) {
		t.Error("the audit log holds a fake secret")
	}
	if q := auditQuery(t, p, containsAll("output.indirect_prompt_injection"), "decision=deny", "tool=get_ticket"); !strings.Contains(q, "output.indirect_prompt_injection") {
		t.Errorf("audit query decision=deny tool=get_ticket = %s", q)
	}
}

func readOutbox(t *testing.T, ws demo.Workspace) []string {
	b, err := os.ReadFile(filepath.Join(ws.Root, "outbox.jsonl"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// examplePolicy is examples/NAME with the demo server and workspace of
// this test, and the test's own audit log and lockfile poll.
func examplePolicy(t *testing.T, name string, ws demo.Workspace) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "/tmp/mcpwarden-demo", ws.Root)
	i := strings.Index(text, "\npolicy:\n")
	if i < 0 {
		t.Fatalf("examples/%s has no policy section", name)
	}
	policy := text[i+len("\npolicy:\n"):]
	return "version: 1\nservers:\n" + demoServer(t, ws) + "policy:\n  audit:\n    sinks: {sqlite: ./audit.db}\n" + policy
}

// TestExamplePolicyStopsArgumentAttacks uses examples/demo.yaml: path escapes through symlinks and encodings, command
// injection into fetch_logs and SSRF to a canary on loopback in every
// spelling are denied before the server sees them.
func TestExamplePolicyStopsArgumentAttacks(t *testing.T) {
	ws := demoWorkspace(t)
	addr, hits := canary(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := examplePolicy(t, "demo.yaml", ws)
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")

	if text, isErr := callText(t, cs, "demo__read_file", map[string]any{"path": "README.txt"}); isErr && strings.Contains(text, "mcpwarden") {
		t.Fatalf("an honest read_file was denied: %s", text)
	}
	for _, path := range []string{"../home/.ssh/id_rsa", "shared/.ssh/id_rsa", "..%2fhome%2f.ssh%2fid_rsa", "..%252fhome%252f.ssh%252fid_rsa",
		"%c0%ae%c0%ae/home/.ssh/id_rsa", `..\home\.ssh\id_rsa`, ws.SSHKey, "~/.ssh/id_rsa", "file://" + ws.SSHKey} {
		reason := denied(t, cs, "demo__read_file", map[string]any{"path": path}, "args.path_root")
		if !strings.Contains(reason, `argument "path"`) {
			t.Errorf("the denial of %q does not name the argument: %s", path, reason)
		}
	}

	if text, isErr := callText(t, cs, "demo__fetch_logs", map[string]any{"service": "nginx"}); isErr {
		t.Fatalf("fetch_logs nginx = %s", text)
	}
	for _, svc := range []string{"nginx; cat /etc/passwd", "nginx$(cat .env >&2)", "nginx`id`", "nginx | cat home/.ssh/id_rsa"} {
		denied(t, cs, "demo__fetch_logs", map[string]any{"service": svc}, "args.command")
	}

	for _, host := range []string{"127.0.0.1", "2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "[::1]", "localhost", "127.0.0.1.nip.io"} {
		denied(t, cs, "demo__fetch_url", map[string]any{"url": "http://" + host + ":" + port + "/"}, "args.url")
	}
	denied(t, cs, "demo__fetch_url", map[string]any{"url": "http://169.254.169.254/latest/meta-data/"}, "args.url")
	// Authorization bypass: the access rules check what the server only
	// promises.
	denied(t, cs, "demo__get_user", map[string]any{"user_id": "1"}, "access.own-profile-only")
	if text, isErr := callText(t, cs, "demo__get_user", map[string]any{"user_id": "2"}); isErr {
		t.Errorf("get_user of one's own record = %s", text)
	}
	denied(t, cs, "demo__delete_user", map[string]any{"user_id": "3"}, "access.admins-delete-users")
	// Credentials in outgoing mail are denied, and the recipient is pinned.
	denied(t, cs, "demo__send_email", map[string]any{"to": "team@example.com", "subject": "keys", "body": "AWS key AKIAQWERTYUIOPASDFGH"}, "args.findings")
	denied(t, cs, "demo__send_email", map[string]any{"to": "attacker@evil.test", "subject": "hi", "body": "hello"}, "args.pattern")
	if n := hits.Load(); n != 0 {
		t.Errorf("the canary was reached %d times", n)
	}
	if q := auditQuery(t, p, func(q string) bool { return strings.Count(q, "args.url") >= 10 }, "decision=deny", "tool=fetch_url"); strings.Count(q, "args.url") < 10 {
		t.Errorf("audit query shows %d args.url denials, want every one:\n%s", strings.Count(q, "args.url"), q)
	}
}

// TestSSRFThroughRedirect lets an internal redirector through the
// argument check (its address is allowed) and shows the second line: the
// sandbox's egress proxy checks the redirect to the canary and refuses it.
func TestSSRFThroughRedirect(t *testing.T) {
	ws := demoWorkspace(t)
	addr, hits := canary(t)
	rl, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	redir := &http.Server{Handler: http.RedirectHandler("http://"+addr+"/secret", http.StatusFound)}
	go redir.Serve(rl)
	t.Cleanup(func() { redir.Close() })
	_, rport, _ := net.SplitHostPort(rl.Addr().String())
	cfg := "version: 1\nservers:\n" + demoServer(t, ws, "network: egress", fmt.Sprintf("egress: {allow: [\"127.0.0.2:%s\"]}", rport)) + policyBase + `  arguments:
    tools:
      - match: demo/fetch_url
        arguments:
          url: {url: {allow_addresses: [loopback]}}
`
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	// 2130706434 is 127.0.0.2: Go's HTTP client sends it through the
	// sandbox's proxy (it bypasses proxies only for loopback literals).
	text, _ := callText(t, cs, "demo__fetch_url", map[string]any{"url": "http://2130706434:" + rport + "/"})
	t.Logf("fetch_url through the redirector = %q", text)
	if strings.Contains(text, "CANARY-REACHED") || hits.Load() != 0 {
		t.Fatalf("the redirect reached the canary: %s", text)
	}
	if !strings.Contains(text, "redirect") && !strings.Contains(text, "denied") {
		t.Errorf("fetch_url = %q, want the proxy's refusal of the redirect", text)
	}
	if q := auditQuery(t, p, containsAll("egress"), "decision=deny"); !strings.Contains(q, "egress") {
		t.Errorf("the audit log has no egress denial:\n%s", q)
	}
}

// TestWrapDefaults runs `mcpwarden wrap` with no configuration at all in
// front of the demo server: the same defaults apply (poisoned tools
// withheld, secrets redacted, injected results blocked, definitions
// pinned in the state directory).
func TestWrapDefaults(t *testing.T) {
	ws := demoWorkspace(t)
	bin := testbin.Path(t)
	state := t.TempDir()
	cmd := exec.Command(bin, "wrap", "--name", "demo", "--rw", ws.Root, "--ro", filepath.Dir(bin), "--", bin, "demo-server", "--workspace", ws.Root)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "wrap-e2e", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	names := toolSet(t, cs)
	if names["add"] || names["word_count"] || !names["read_file"] {
		t.Errorf("wrapped tools/list = %v, want the poisoned tools withheld", names)
	}
	denied(t, cs, "add", map[string]any{"a": 1, "b": 2}, "tools.poisoned")
	if text, _ := callText(t, cs, "debug_info", map[string]any{}); strings.Contains(text, ws.Canary) {
		t.Errorf("debug_info through wrap leaked a fake secret: %s", text)
	}
	denied(t, cs, "get_ticket", map[string]any{"id": "1337"}, "output.indirect_prompt_injection")
	denied(t, cs, "read_file", map[string]any{"path": 7}, "args.schema")
	if _, err := os.Stat(filepath.Join(state, "mcpwarden", "mcpwarden.lock")); err != nil {
		t.Errorf("wrap pinned nothing in the state directory: %v", err)
	}
}

// TestRugPullMidSession changes a tool while a client is connected: the
// server replaces echo and announces list_changed, the gateway re-lists,
// and the changed definition is withheld from the next list and its calls
// denied, until `mcpwarden pin approve` accepts it; the running gateway
// notices the approval by itself.
func TestRugPullMidSession(t *testing.T) {
	p := startGateway(t, "version: 1\nservers:\n"+testServer("go")+policyBase)
	p.waitHealthy(t)
	changed := make(chan struct{}, 8)
	c := mcp.NewClient(&mcp.Implementation{Name: "go-e2e", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: p.addr, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if !toolSet(t, cs)["go__echo"] {
		t.Fatal("echo is not listed")
	}
	if text, isErr := callText(t, cs, "go__echo", map[string]any{"text": "hi"}); isErr || text != "hi" {
		t.Fatalf("echo = %q", text)
	}
	if _, isErr := callText(t, cs, "go__add_tool", map[string]any{"name": "echo"}); isErr {
		t.Fatal("add_tool failed")
	}
	deadline := time.Now().Add(20 * time.Second)
	for toolSet(t, cs)["go__echo"] {
		select {
		case <-changed:
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the changed echo is still listed")
		}
	}
	reason := denied(t, cs, "go__echo", map[string]any{"text": "hi"}, "pin.changed")
	if !strings.Contains(reason, "description changed") {
		t.Errorf("denial = %s, want the change named", reason)
	}
	for len(changed) > 0 {
		<-changed
	}
	out, err := exec.Command(testbin.Path(t), "pin", "approve", "go/echo", "--lockfile", filepath.Join(dirOf(p), "mcpwarden.lock")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Added at runtime.") {
		t.Fatalf("pin approve = %v\n%s", err, out)
	}
	// The gateway tells the client its list changed, without being asked.
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Error("no tools/list_changed after the approval")
	}
	deadline = time.Now().Add(20 * time.Second)
	for !toolSet(t, cs)["go__echo"] {
		if time.Now().After(deadline) {
			t.Fatal("the approved echo is not listed again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if text, isErr := callText(t, cs, "go__echo", map[string]any{}); isErr && strings.Contains(text, "mcpwarden denied") {
		t.Errorf("the approved echo is still denied: %s", text)
	}
}
