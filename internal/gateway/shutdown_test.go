package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/config"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

// seesRoots signals when a roots/list request from a server reaches the
// pipeline on its way to the client.
type seesRoots chan struct{}

func (seesRoots) Name() string { return "sees-roots" }
func (s seesRoots) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Direction == pipeline.ToClient && c.Method == "roots/list" {
		select {
		case s <- struct{}{}:
		default:
		}
	}
	return pipeline.Allow, nil
}
func (seesRoots) Response(_ context.Context, _ *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	return res, pipeline.Allow, nil
}

// TestCloseWithUnansweredClientRequest covers a shutdown that used to hang
// (seen in CI with server-everything): a stdio server asks for roots
// outside any call, the gateway relays the request to the only client,
// and that client never answers (it went away without ending its
// session). Closing the upstream connection waits for its request
// handlers, so the relayed request must end when the gateway closes.
func TestCloseWithUnansweredClientRequest(t *testing.T) {
	up := stdioServer("asks")
	up.Env[mcptest.EnvAskRoots] = "1"
	up.ProtocolVersion = "2025-11-25" // servers may ask outside calls only before 2026-07-28
	cfg := &config.Config{Version: config.Version, Servers: []config.Server{up}}
	cfg.ApplyDefaults() // a 60 s call timeout: only the shutdown can end the request in time
	asked := make(seesRoots, 1)
	g, err := New(Options{Config: cfg, Chain: pipeline.NewChain(asked), Logger: testLogger(t), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	g.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g.Handler(HTTPOptions{Loopback: true}))
	defer gw.Close()

	// A client that declares roots, then never answers anything.
	post := func(session, body string) string {
		req, _ := http.NewRequest("POST", gw.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %s", body, resp.Status)
		}
		return resp.Header.Get("Mcp-Session-Id")
	}
	session := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{"listChanged":true}},"clientInfo":{"name":"silent","version":"1"}}}`)
	if session == "" {
		t.Fatal("no session id")
	}
	// The stream on which the gateway sends it requests, never read.
	getCtx, endGet := context.WithCancel(context.Background())
	defer endGet()
	get, _ := http.NewRequestWithContext(getCtx, "GET", gw.URL+"/mcp", nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("MCP-Protocol-Version", "2025-11-25")
	get.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s", resp.Status)
	}
	post(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the server's roots/list never reached the gateway")
	}

	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("Close hung on a server-to-client request nobody answers")
	}
}
