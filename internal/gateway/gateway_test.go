//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package gateway

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/calllog"
	"mcpwarden/internal/config"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

func TestMain(m *testing.M) {
	mcptest.Main()
	os.Exit(m.Run())
}

// stdioServer declares the test binary, re-executed as mcptest's stdio
// server, as an upstream.
func stdioServer(name string) config.Server {
	cmd, env := mcptest.Command(name)
	return config.Server{Name: name, Command: cmd, Env: env}
}

func httpServer(t *testing.T, name string, stateless bool) config.Server {
	ts := httptest.NewServer(mcptest.Handler(name, stateless))
	t.Cleanup(ts.Close)
	return config.Server{Name: name, URL: ts.URL}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startGateway(t *testing.T, chain *pipeline.Chain, servers ...config.Server) *Gateway {
	t.Helper()
	cfg := &config.Config{Version: config.Version, Servers: servers}
	cfg.ApplyDefaults()
	if chain == nil {
		chain = pipeline.NewChain(calllog.New(calllog.Options{Logger: testLogger(t)}))
	}
	g, err := New(Options{Config: cfg, Chain: chain, Logger: testLogger(t), Version: "test", MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g.Start(context.Background())
	t.Cleanup(func() { g.Close() })
	if err := g.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return g
}

// agent is a downstream go-sdk client that records what the gateway sends
// it and answers sampling, elicitation and roots requests.
type agent struct {
	mu       sync.Mutex
	progress []*mcp.ProgressNotificationParams
	logs     []*mcp.LoggingMessageParams
	changed  chan struct{}
}

func newAgent() *agent { return &agent{changed: make(chan struct{}, 16)} }

func (a *agent) client() *mcp.Client {
	c := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "1"}, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			var prompt string
			if len(req.Params.Messages) > 0 {
				if t, ok := req.Params.Messages[0].Content.(*mcp.TextContent); ok {
					prompt = t.Text
				}
			}
			return &mcp.CreateMessageResult{Role: "assistant", Model: "test-model", Content: &mcp.TextContent{Text: "pong: " + prompt}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"answer": "yes to " + req.Params.Message}}, nil
		},
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			a.mu.Lock()
			a.progress = append(a.progress, req.Params)
			a.mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			a.mu.Lock()
			a.logs = append(a.logs, req.Params)
			a.mu.Unlock()
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case a.changed <- struct{}{}:
			default:
			}
		},
	})
	c.AddRoots(&mcp.Root{URI: "file:///tmp/agent-root", Name: "root"})
	return c
}

func connectMemory(t *testing.T, g *Gateway, a *agent, rev string) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	if _, err := g.Server().Connect(ctx, st, nil); err != nil {
		t.Fatalf("server connect: %v", err)
	}
	cs, err := a.client().Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err != nil {
		t.Fatalf("client connect (%s): %v", rev, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func connectHTTP(t *testing.T, g *Gateway, a *agent, rev string) *mcp.ClientSession {
	t.Helper()
	return connectHTTPClient(t, g, a.client(), rev)
}

func connectHTTPClient(t *testing.T, g *Gateway, c *mcp.Client, rev string) *mcp.ClientSession {
	t.Helper()
	ts := httptest.NewServer(g.Handler(HTTPOptions{Loopback: true}))
	t.Cleanup(ts.Close)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err != nil {
		t.Fatalf("client connect over HTTP (%s): %v", rev, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s): %v", name, err)
	}
	return res
}

var revisions = []string{"2025-11-25", "2026-07-28"}

// TestEndToEnd drives the gateway with a real go-sdk client over an
// in-memory pipe and over Streamable HTTP, in both revisions, against
// upstreams of every kind: a stdio subprocess (which negotiates
// 2026-07-28), the same forced down to 2025-11-25, and HTTP servers that
// are stateful (2025-11-25) and stateless (2026-07-28).
func TestEndToEnd(t *testing.T) {
	forced := stdioServer("old")
	forced.ProtocolVersion = "2025-11-25"
	g := startGateway(t, nil, stdioServer("std"), forced, httpServer(t, "web25", false), httpServer(t, "web26", true))

	for _, st := range g.Statuses() {
		t.Logf("upstream %s: up=%v transport=%s protocol=%s tools=%d", st.Name, st.Up, st.Transport, st.Protocol, st.Tools)
	}
	wantProto := map[string]string{"std": "2026-07-28", "old": "2025-11-25", "web25": "2025-11-25", "web26": "2026-07-28"}
	for _, st := range g.Statuses() {
		if st.Protocol != wantProto[st.Name] {
			t.Errorf("upstream %s negotiated %q, want %q", st.Name, st.Protocol, wantProto[st.Name])
		}
	}

	for _, via := range []string{"memory", "http"} {
		for _, rev := range revisions {
			t.Run(via+"/"+rev, func(t *testing.T) {
				a := newAgent()
				var cs *mcp.ClientSession
				if via == "memory" {
					cs = connectMemory(t, g, a, rev)
				} else {
					cs = connectHTTP(t, g, a, rev)
				}
				if got := cs.InitializeResult().ProtocolVersion; got != rev {
					t.Fatalf("downstream negotiated %s, want %s", got, rev)
				}
				ctx := context.Background()
				tools, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatalf("ListTools: %v", err)
				}
				var names []string
				for _, tl := range tools.Tools {
					names = append(names, tl.Name)
				}
				for _, want := range []string{"std__echo", "old__sample", "web25__elicit", "web26__roots"} {
					if !slices.Contains(names, want) {
						t.Errorf("tools/list lacks %s (got %v)", want, names)
					}
				}
				for _, up := range []string{"std", "old", "web25", "web26"} {
					if got := mcptest.Text(call(t, cs, up+"__echo", map[string]any{"text": "hi " + up})); got != "hi "+up {
						t.Errorf("%s__echo = %q, want %q", up, got, "hi "+up)
					}
					if got, want := mcptest.Text(call(t, cs, up+"__sample", map[string]any{"prompt": "ping"})), "model said: pong: ping"; got != want {
						t.Errorf("%s__sample = %q, want %q", up, got, want)
					}
					if got, want := mcptest.Text(call(t, cs, up+"__elicit", map[string]any{"question": "ok?"})), `accept {"answer":"yes to ok?"}`; got != want {
						t.Errorf("%s__elicit = %q, want %q", up, got, want)
					}
					if got, want := mcptest.Text(call(t, cs, up+"__roots", nil)), "file:///tmp/agent-root"; got != want {
						t.Errorf("%s__roots = %q, want %q", up, got, want)
					}
				}
			})
		}
	}
}

func TestNameCollision(t *testing.T) {
	cfg := &config.Config{Version: 1, Servers: []config.Server{{Name: "a", Command: "x"}, {Name: "A", Command: "y"}, {Name: "b__c", Command: "z"}}}
	cfg.ApplyDefaults()
	_, err := New(Options{Config: cfg})
	if err == nil {
		t.Fatal("New accepted colliding server names")
	}
	for _, want := range []string{`"a" and "A" collide`, `"b__c" contains the separator`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error = %v, want it to mention %s", err, want)
		}
	}
}
