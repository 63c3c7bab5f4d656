package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/jwt/jwttest"
	"mcpwarden/internal/mcptest"
)

// upstream is a go-sdk MCP server over Streamable HTTP that records the
// headers of every request it gets.
type upstream struct {
	url     string
	mu      sync.Mutex
	headers []http.Header
}

func (u *upstream) seen() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.headers...)
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "up", Version: "1"}, nil)
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	obj := map[string]any{"type": "object"}
	s.AddTool(&mcp.Tool{Name: "lookup", Description: "Look something up.", InputSchema: obj, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("found " + string(req.Params.Arguments)), nil
		})
	s.AddTool(&mcp.Tool{Name: "write", Description: "Write something.", InputSchema: obj},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return text("written"), nil })
	s.AddTool(&mcp.Tool{Name: "delete_thing", Description: "Delete something.", InputSchema: obj},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return text("deleted"), nil })
	s.AddTool(&mcp.Tool{Name: "big", Description: "Return a large result.", InputSchema: obj, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text(strings.Repeat("b", 64<<10)), nil
		})
	s.AddTool(&mcp.Tool{Name: "slow", Description: "Sleep.", InputSchema: obj, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			select {
			case <-time.After(10 * time.Second):
				return text("slept"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	u := &upstream{}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	u.url = ts.URL + "/mcp"
	return u
}

// policyEnv is a gateway with authentication, access rules and limits in
// front of the recording upstream, and a JWT issuer on loopback HTTPS.
type policyEnv struct {
	gw       *process
	url      string // the MCP endpoint
	iss      *jwttest.Issuer
	up       *upstream
	ciKey    string
	auditDB  string
	resource string
}

const policyRules = `
  access:
    default: deny
    rules:
      - id: contractors-read-only
        when: '"contractors" in caller.groups && !annotations.readOnlyHint'
        decision: deny
        reason: contractors may only use read-only tools
      - id: approve-deletes
        when: tool.startsWith("delete_") && "dev" in caller.groups
        decision: approve
        reason: deleting needs a human's yes
      - id: staff
        when: '"dev" in caller.groups || "contractors" in caller.groups || "ci" in caller.groups'
        decision: allow
  limits:
    max_argument_bytes: 1KiB
    max_result_bytes: 16KiB
    rate:
      - id: ci-lookups
        per: [caller]
        tools: ["up/lookup"]
        rate: 3/m
    tools:
      - match: up/slow
        timeout: 300ms
`

func startPolicyGateway(t *testing.T) *policyEnv {
	t.Helper()
	dir := t.TempDir()
	env := &policyEnv{up: startUpstream(t), iss: jwttest.NewIssuer(t, "ES256"), ciKey: apikey.New(), auditDB: filepath.Join(dir, "audit.db")}
	ca := filepath.Join(dir, "issuer-ca.pem")
	if err := os.WriteFile(ca, env.iss.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env.resource = "http://" + addr + "/mcp"
	cfg := fmt.Sprintf(`version: 1
servers:
  up:
    url: %s
    headers:
      Authorization: "Bearer upstream-credential"
policy:
  audit:
    sinks:
      sqlite: %s
  auth:
    api_keys:
      - name: ci-bot
        hash: %s
        groups: [ci]
    jwt:
      issuer: %s
      audience: [%s]
      ca_file: %s
%s`, env.up.url, env.auditDB, apikey.Hash(env.ciKey), env.iss.URL, env.resource, ca, policyRules)
	env.gw = startGateway(t, cfg, "--listen", addr)
	env.gw.waitHealthy(t)
	env.url = env.gw.addr
	return env
}

// token signs a valid access token for subject in groups.
func (e *policyEnv) token(t *testing.T, subject string, groups ...string) string {
	c := e.iss.Claims(subject, e.resource)
	c["groups"] = groups
	return e.iss.Sign(t, c)
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens a go-sdk client session to the gateway with a bearer
// token; approve, when set, answers approval questions.
func (e *policyEnv) connect(t *testing.T, token, rev string, approve *bool) (*mcp.ClientSession, error) {
	t.Helper()
	opts := &mcp.ClientOptions{}
	if approve != nil {
		yes := *approve
		opts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": yes}}, nil
		}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "policy-e2e", Version: "1"}, opts)
	tr := &mcp.StreamableClientTransport{Endpoint: e.url, HTTPClient: &http.Client{Transport: bearerTransport{token}}, MaxRetries: -1}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// TestPolicyAuthDiscovery checks what an unauthenticated client learns:
// 401 with a WWW-Authenticate challenge naming the resource metadata,
// which names the issuer.
func TestPolicyAuthDiscovery(t *testing.T) {
	e := startPolicyGateway(t)
	resp, err := http.Post(e.url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated POST = %d, want 401", resp.StatusCode)
	}
	ch, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(ch) != 1 || ch[0].Scheme != "bearer" {
		t.Fatalf("WWW-Authenticate = %q (%v)", resp.Header.Values("WWW-Authenticate"), err)
	}
	metaURL := ch[0].Params["resource_metadata"]
	base := strings.TrimSuffix(e.url, "/mcp")
	if metaURL != base+"/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("resource_metadata = %q", metaURL)
	}
	// The go-sdk's own client-side discovery accepts it.
	prm, err := oauthex.GetProtectedResourceMetadata(context.Background(), metaURL, e.resource, http.DefaultClient)
	if err != nil {
		t.Fatalf("GetProtectedResourceMetadata: %v", err)
	}
	if !slices.Equal(prm.AuthorizationServers, []string{e.iss.URL}) || !slices.Contains(prm.BearerMethodsSupported, "header") {
		t.Errorf("metadata = %+v, want the issuer as authorization server", prm)
	}
	// The root well-known URL serves the same document.
	plain, err := oauthex.GetProtectedResourceMetadata(context.Background(), base+"/.well-known/oauth-protected-resource", e.resource, http.DefaultClient)
	if err != nil || plain.Resource != e.resource {
		t.Errorf("root metadata = %+v, %v", plain, err)
	}
	// /healthz stays open, and legacy SSE is refused while auth is on.
	if r, err := http.Get(base + "/healthz"); err != nil || r.StatusCode != 200 {
		t.Errorf("healthz = %v %v", r, err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+e.ciKey)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("legacy SSE with auth on = %v %v, want 403", r, err)
	}
}

// TestPolicyCredentials connects with each kind of credential.
func TestPolicyCredentials(t *testing.T) {
	e := startPolicyGateway(t)
	expired := e.iss.Claims("alice", e.resource)
	expired["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	wrongAud := e.iss.Claims("alice", "https://other.example.com/mcp")
	wrongIss := e.iss.Claims("alice", e.resource)
	wrongIss["iss"] = "https://other-issuer.example.com"
	other := jwttest.NewIssuer(t, "ES256") // unknown to the gateway
	other.Current().ID = "foreign-key"
	foreign := other.Sign(t, other.Claims("alice", e.resource))
	tests := []struct {
		name, token string
		ok          bool
		desc        string // in the error_description of the challenge
	}{
		{"API key", e.ciKey, true, ""},
		{"unknown API key", apikey.New(), false, "unknown API key"},
		{"JWT", e.token(t, "alice", "dev"), true, ""},
		{"expired JWT", e.iss.Sign(t, expired), false, "expired"},
		{"JWT for another audience", e.iss.Sign(t, wrongAud), false, "wrong audience"},
		{"JWT naming another issuer", e.iss.Sign(t, wrongIss), false, "issuer this gateway does not trust"},
		{"JWT signed by another issuer", foreign, false, "signed with a key the issuer does not publish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := e.connect(t, tt.token, "2025-11-25", nil)
			if tt.ok {
				if err != nil {
					t.Fatalf("connect = %v", err)
				}
				if txt, isErr := callText(t, cs, "up__lookup", map[string]any{"q": "x"}); isErr || !strings.Contains(txt, "found") {
					t.Errorf("lookup = %q", txt)
				}
				return
			}
			if err == nil {
				t.Fatal("connect succeeded with a bad credential")
			}
			req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			www := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || !strings.Contains(www, `error="invalid_token"`) || !strings.Contains(www, tt.desc) {
				t.Errorf("bad credential = %d %q, want 401 invalid_token saying %q", resp.StatusCode, www, tt.desc)
			}
		})
	}

	// The upstream saw the gateway's own credential on every request,
	// never a caller's.
	seen := e.up.seen()
	if len(seen) == 0 {
		t.Fatal("the upstream saw no requests")
	}
	for _, h := range seen {
		if got := h.Values("Authorization"); !slices.Equal(got, []string{"Bearer upstream-credential"}) {
			t.Fatalf("upstream saw Authorization %q, want only the configured upstream credential", got)
		}
	}
}

// TestPolicyAccessRules checks that one rule denies a tool to one caller
// and lets another use it, in tools/list and in calls.
func TestPolicyAccessRules(t *testing.T) {
	e := startPolicyGateway(t)
	dev, err := e.connect(t, e.token(t, "dana", "dev"), "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	contractor, err := e.connect(t, e.token(t, "carl", "contractors"), "2026-07-28", nil)
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := e.connect(t, e.token(t, "olga", "marketing"), "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"up__big", "up__delete_thing", "up__lookup", "up__slow", "up__write"}
	if got := toolNames(t, dev); !slices.Equal(got, all) {
		t.Errorf("dev's tools = %v, want %v", got, all)
	}
	if got, want := toolNames(t, contractor), []string{"up__big", "up__lookup", "up__slow"}; !slices.Equal(got, want) {
		t.Errorf("contractor's tools = %v, want the read-only ones %v", got, want)
	}
	if got := toolNames(t, outsider); len(got) != 0 {
		t.Errorf("outsider's tools = %v, want none", got)
	}

	if txt, isErr := callText(t, dev, "up__write", nil); isErr || txt != "written" {
		t.Errorf("dev write = %q (isError %v)", txt, isErr)
	}
	txt, isErr := callText(t, contractor, "up__write", nil)
	if !isErr || txt != "mcpwarden denied this request (rule access.contractors-read-only): contractors may only use read-only tools" {
		t.Errorf("contractor write = %q (isError %v), want the rule's denial", txt, isErr)
	}
	if txt, isErr := callText(t, contractor, "up__lookup", map[string]any{"q": "y"}); isErr || !strings.Contains(txt, "found") {
		t.Errorf("contractor lookup = %q", txt)
	}
	txt, isErr = callText(t, outsider, "up__lookup", nil)
	if !isErr || !strings.Contains(txt, "rule access.default") || !strings.Contains(txt, "olga") {
		t.Errorf("outsider lookup = %q, want the default denial naming the caller", txt)
	}

	// The denials are in the audit log, with the caller and the rule.
	out := pollAudit(t, containsAll("access.contractors-read-only", "olga"), "audit", "query", "--db", e.auditDB, "--decision", "deny", "--format", "json")
	var found []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			Caller     string `json:"caller"`
			AuthMethod string `json:"auth_method"`
			Name       string `json:"name"`
			Decisions  []struct {
				Rule    string `json:"rule"`
				Control string `json:"control"`
			} `json:"decisions"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		for _, d := range r.Decisions {
			found = append(found, r.Caller+"/"+r.AuthMethod+"/"+r.Name+"/"+d.Rule+"/"+d.Control)
		}
	}
	for _, want := range []string{"carl/jwt/write/access.contractors-read-only/access", "olga/jwt/lookup/access.default/access"} {
		if !slices.Contains(found, want) {
			t.Errorf("audit query --decision deny = %v, want a record %s\n%s", found, want, out)
		}
	}
}

// TestPolicyApproval answers an approve rule yes and no, through the
// go-sdk client in both revisions (elicitation for 2025-11-25,
// input_required for 2026-07-28).
func TestPolicyApproval(t *testing.T) {
	e := startPolicyGateway(t)
	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		for _, yes := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/approve=%v", rev, yes), func(t *testing.T) {
				cs, err := e.connect(t, e.token(t, "dana", "dev"), rev, &yes)
				if err != nil {
					t.Fatal(err)
				}
				txt, isErr := callText(t, cs, "up__delete_thing", map[string]any{"id": 7})
				if yes && (isErr || txt != "deleted") {
					t.Errorf("approved delete = %q (isError %v)", txt, isErr)
				}
				if !yes && (!isErr || !strings.Contains(txt, "rule access.approve-deletes") || !strings.Contains(txt, "did not approve")) {
					t.Errorf("declined delete = %q, want a denial naming the rule", txt)
				}
			})
		}
	}
	// A client that cannot ask is denied with a reason saying so.
	cs, err := e.connect(t, e.token(t, "dana", "dev"), "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	if txt, isErr := callText(t, cs, "up__delete_thing", nil); !isErr || !strings.Contains(txt, "cannot ask") {
		t.Errorf("delete from a client without elicitation = %q", txt)
	}
	// Every answer is in the audit log, with the rule that asked.
	answers := []string{"approved by the user (asked with elicitation)", "approved by the user (asked with input_required)", "the user did not approve it", "the client cannot ask the user"}
	out := pollAudit(t, containsAll(answers...), "audit", "query", "--db", e.auditDB, "--rule", "access.approve-deletes", "--format", "json")
	for _, want := range answers {
		if !strings.Contains(out, want) {
			t.Errorf("the audit log has no decision %q", want)
		}
	}
}

// TestPolicyLimits exceeds a rate limit, sends an oversized argument,
// gets an oversized result and hits a per-tool timeout.
func TestPolicyLimits(t *testing.T) {
	e := startPolicyGateway(t)
	cs, err := e.connect(t, e.ciKey, "2025-11-25", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if txt, isErr := callText(t, cs, "up__lookup", map[string]any{"q": i}); isErr {
			t.Fatalf("lookup %d = %q", i, txt)
		}
	}
	txt, isErr := callText(t, cs, "up__lookup", map[string]any{"q": 4})
	if !isErr || !strings.Contains(txt, "rule limits.rate.ci-lookups") || !strings.Contains(txt, "retry after 20s") {
		t.Errorf("fourth lookup in a minute = %q, want a rate-limit denial saying when to retry", txt)
	}
	// Another caller is not affected.
	dev, err := e.connect(t, e.token(t, "dana", "dev"), "2026-07-28", nil)
	if err != nil {
		t.Fatal(err)
	}
	if txt, isErr := callText(t, dev, "up__lookup", map[string]any{"q": 1}); isErr {
		t.Errorf("dana's lookup = %q, limited by ci-bot's bucket", txt)
	}

	txt, isErr = callText(t, dev, "up__write", map[string]any{"data": strings.Repeat("z", 2000)})
	if !isErr || !strings.Contains(txt, "rule limits.argument_size") || !strings.Contains(txt, "more than the 1024 allowed for up/write by policy.limits.max_argument_bytes") {
		t.Errorf("oversized argument = %q, want a denial naming the limit", txt)
	}
	txt, isErr = callText(t, dev, "up__big", nil)
	if !isErr || !strings.Contains(txt, "rule limits.result_size") || !strings.Contains(txt, "policy.limits.max_result_bytes") || strings.Contains(txt, "bbbb") {
		t.Errorf("oversized result = %.300q, want an error naming the limit instead of the result", txt)
	}
	txt, isErr = callText(t, dev, "up__slow", nil)
	if !isErr || !strings.Contains(txt, "did not answer within 300ms") {
		t.Errorf("slow tool = %q, want the per-tool timeout of 300ms", txt)
	}
}

// TestPolicyExposure checks that the gateway refuses to listen beyond
// loopback without authentication.
func TestPolicyExposure(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\n"), 0o600)
	cmd := exec.Command(testbinPath(t), "gateway", "--config", cfg, "--listen", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "configure policy.auth") {
		t.Errorf("gateway on 0.0.0.0 without auth = %v\n%s\nwant exit 2 asking for policy.auth", err, out)
	}
}

// TestPolicyWrapIdentity checks that stdio callers of `mcpwarden wrap` are
// the local user, whom rules can name.
func TestPolicyWrapIdentity(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wrap.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
policy:
  audit:
    sinks:
      sqlite: %s
  access:
    default: deny
    rules:
      - id: no-env-for-me
        when: caller.method == "stdio" && caller.subject == %q && tool == "env"
        decision: deny
        reason: not even you
      - id: local-user
        when: caller.method == "stdio"
        decision: allow
`, filepath.Join(dir, "audit.db"), u.Username)), 0o600)
	server, env := mcptest.Command("std")
	cmd := exec.Command(testbinPath(t), "wrap", "--config", cfg, "--ro", filepath.Dir(server), "--", server)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// wrap passes only the variables named with --env to the server.
	for k := range env {
		cmd.Args = slices.Insert(cmd.Args, 2, "--env", k)
	}
	cmd.Stderr = io.Discard
	c := mcp.NewClient(&mcp.Implementation{Name: "wrap-e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if txt, isErr := callText(t, cs, "echo", map[string]any{"text": "hi"}); isErr || txt != "hi" {
		t.Errorf("echo through wrap = %q", txt)
	}
	if txt, isErr := callText(t, cs, "env", map[string]any{"name": "PATH"}); !isErr || !strings.Contains(txt, "rule access.no-env-for-me") {
		t.Errorf("env through wrap = %q, want the rule naming the local user to deny it", txt)
	}
}
