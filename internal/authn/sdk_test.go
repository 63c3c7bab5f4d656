package authn

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/apikey"
)

// bearer adds a fixed Authorization header to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// TestThroughSDK runs a real go-sdk server behind Wrap and checks that
// the identity reaches tool handlers through Identify in both protocol
// revisions, and that a stateful session cannot be used with another
// caller's credentials.
func TestThroughSDK(t *testing.T) {
	alice, bob := apikey.New(), apikey.New()
	a, err := New(Options{Config: Config{APIKeys: []APIKey{
		{Name: "alice", Hash: apikey.Hash(alice), Groups: []string{"dev"}},
		{Name: "bob", Hash: apikey.Hash(bob)},
	}}, Path: "/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "who", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami"}, func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		id := a.Identify(ctx, req.Extra)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: id.Subject + "/" + id.Method + "/" + strings.Join(id.Groups, ",")}}}, nil, nil
	})
	stateful := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", a.Wrap(stateful))
	ts := httptest.NewServer(a.Handler(mux))
	defer ts.Close()

	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(rev, func(t *testing.T) {
			c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
			tr := &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: &http.Client{Transport: bearer{alice, http.DefaultTransport}}, MaxRetries: -1}
			cs, err := c.Connect(context.Background(), tr, &mcp.ClientSessionOptions{ProtocolVersion: rev})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Content[0].(*mcp.TextContent).Text; got != "alice/api_key/dev" {
				t.Errorf("whoami = %q, want alice/api_key/dev", got)
			}
		})
	}

	// Bob takes alice's session ID: the SDK refuses, because the session
	// is bound to alice's user ID.
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: &http.Client{Transport: bearer{alice, http.DefaultTransport}}, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami"}}`))
	req.Header.Set("Authorization", "Bearer "+bob)
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob using alice's session = %d %s, want 403", resp.StatusCode, body)
	}
}
