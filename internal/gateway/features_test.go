//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/config"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

// TestFeatures covers the rest of the protocol surface through the
// gateway, in both downstream revisions: progress, prompts, completion,
// resources and templates, subscriptions, logging and list_changed.
func TestFeatures(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"), httpServer(t, "web25", false), httpServer(t, "web26", true))
	for _, rev := range revisions {
		t.Run(rev, func(t *testing.T) {
			a := newAgent()
			cs := connectHTTP(t, g, a, rev)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()

			t.Run("progress", func(t *testing.T) {
				for _, up := range []string{"std", "web25", "web26"} {
					a.mu.Lock()
					a.progress = nil
					a.mu.Unlock()
					p := &mcp.CallToolParams{Name: up + "__progress", Arguments: map[string]any{"steps": 3}}
					p.SetProgressToken("tok-" + up)
					res, err := cs.CallTool(ctx, p)
					if err != nil || mcptest.Text(res) != "done 3 steps" {
						t.Fatalf("%s progress = %v, %v", up, res, err)
					}
					deadline := time.Now().Add(5 * time.Second)
					for {
						a.mu.Lock()
						n := len(a.progress)
						var toks []any
						for _, pr := range a.progress {
							toks = append(toks, pr.ProgressToken)
						}
						a.mu.Unlock()
						if n == 3 {
							for _, tk := range toks {
								if tk != "tok-"+up {
									t.Errorf("%s progress token = %v, want the client's own tok-%s", up, tk, up)
								}
							}
							break
						}
						if time.Now().After(deadline) {
							t.Fatalf("%s: got %d progress notifications, want 3", up, n)
						}
						time.Sleep(10 * time.Millisecond)
					}
				}
			})

			t.Run("prompts", func(t *testing.T) {
				list, err := cs.ListPrompts(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, p := range list.Prompts {
					names = append(names, p.Name)
				}
				if !slices.Contains(names, "web26__greet") || !slices.Contains(names, "std__greet") {
					t.Errorf("prompts = %v", names)
				}
				res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "web25__greet", Arguments: map[string]string{"name": "ada"}})
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Messages[0].Content.(*mcp.TextContent).Text; got != "Hello, ada!" {
					t.Errorf("greet = %q", got)
				}
				comp, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "std__greet"}, Argument: mcp.CompleteParamsArgument{Name: "name", Value: "al"}})
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(comp.Completion.Values, ","); got != "alice,albert" {
					t.Errorf("completion = %q, want alice,albert", got)
				}
			})

			t.Run("resources", func(t *testing.T) {
				list, err := cs.ListResources(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				var uris []string
				for _, r := range list.Resources {
					uris = append(uris, r.URI)
				}
				for _, up := range []string{"std", "web25", "web26"} {
					uri := "test://" + up + "/hello"
					if !slices.Contains(uris, uri) {
						t.Errorf("resources lack %s: %v", uri, uris)
					}
					res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
					if err != nil {
						t.Fatalf("read %s: %v", uri, err)
					}
					if got := res.Contents[0].Text; got != "hello from "+up {
						t.Errorf("read %s = %q", uri, got)
					}
					item, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://" + up + "/items/42"})
					if err != nil {
						t.Fatalf("read template of %s: %v", up, err)
					}
					if got := item.Contents[0].Text; got != "item 42" {
						t.Errorf("template read = %q", got)
					}
				}
				tmpls, err := cs.ListResourceTemplates(ctx, nil)
				if err != nil || len(tmpls.ResourceTemplates) != 3 {
					t.Errorf("templates = %v, %v; want 3", tmpls, err)
				}
				if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://web25/hello"}); err != nil {
					t.Errorf("subscribe: %v", err)
				}
				_, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://nowhere/x"})
				if err == nil {
					t.Error("reading a resource no server lists succeeded")
				}
			})

			t.Run("logging", func(t *testing.T) {
				if rev >= "2026-07-28" {
					t.Skip("logging/setLevel is removed in 2026-07-28")
				}
				if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
					t.Fatal(err)
				}
				call(t, cs, "web25__log", map[string]any{"text": "hello log"})
				waitFor(t, func() bool {
					a.mu.Lock()
					defer a.mu.Unlock()
					for _, l := range a.logs {
						if l.Data == "hello log" && l.Logger == "web25" {
							return true
						}
					}
					return false
				}, "log message from web25")
			})
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListChanged checks that a tool added upstream at runtime shows up
// downstream, announced by list_changed.
func TestListChanged(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	a := newAgent()
	cs := connectMemory(t, g, a, "2025-11-25")
	call(t, cs, "std__add_tool", map[string]any{"name": "fresh"})
	select {
	case <-a.changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no tools/list_changed reached the client")
	}
	waitFor(t, func() bool {
		res, err := cs.ListTools(context.Background(), nil)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(res.Tools, func(tl *mcp.Tool) bool { return tl.Name == "std__fresh" })
	}, "std__fresh in tools/list")
	if got := mcptest.Text(call(t, cs, "std__fresh", nil)); got != "new tool fresh" {
		t.Errorf("std__fresh = %q", got)
	}
}

// TestPagination lists across servers with a page size smaller than the
// total, and checks nothing is lost or repeated.
func TestPagination(t *testing.T) {
	cfg := &config.Config{Version: 1, Servers: []config.Server{stdioServer("a1"), stdioServer("a2")}}
	cfg.ApplyDefaults()
	g, err := New(Options{Config: cfg, PageSize: 5, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	g.Start(context.Background())
	t.Cleanup(func() { g.Close() })
	if err := g.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	var names []string
	pages := 0
	for tl, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name)
	}
	res, _ := cs.ListTools(context.Background(), nil)
	if res.NextCursor != "" {
		pages++
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	want := 0
	for _, st := range g.Statuses() {
		want += st.Tools
	}
	if len(slices.Compact(sorted)) != len(names) || len(names) != want || want < 10 || pages == 0 {
		t.Errorf("paginated listing returned %d tools (%d distinct), first page had a cursor: %v; want %d distinct over several pages", len(names), len(slices.Compact(sorted)), pages > 0, want)
	}
}

// TestCrashAndRestart kills the upstream mid-call: the call fails with an
// error naming the server, and the server comes back.
func TestCrashAndRestart(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	res := call(t, cs, "std__crash", nil)
	if !res.IsError || !strings.Contains(mcptest.Text(res), `upstream server "std"`) {
		t.Fatalf("crash call = %+v (%q), want a tool error naming the server", res, mcptest.Text(res))
	}
	waitFor(t, func() bool {
		st := g.Statuses()[0]
		return st.Up && st.Restarts >= 1
	}, "restart")
	if got := mcptest.Text(call(t, cs, "std__echo", map[string]any{"text": "back"})); got != "back" {
		t.Errorf("echo after restart = %q", got)
	}
}

// TestEnvScrubbed checks a stdio server sees only the base variables and
// its declared ones, never the gateway's own environment.
func TestEnvScrubbed(t *testing.T) {
	t.Setenv("MCPW_CANARY_SECRET", "s3cret-canary")
	s := stdioServer("std")
	s.Env["DECLARED"] = "yes"
	s.Env["FROM_REF"] = "${env:MCPW_CANARY_SECRET}"
	g := startGateway(t, nil, s)
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	for name, want := range map[string]string{"MCPW_CANARY_SECRET": "<unset>", "DECLARED": "yes", "FROM_REF": "s3cret-canary", "PATH": "", "HOME": ""} {
		got := mcptest.Text(call(t, cs, "std__env", map[string]any{"name": name}))
		if want == "" {
			if got == "<unset>" {
				t.Errorf("%s is unset in the server; the base environment should carry it", name)
			}
			continue
		}
		if got != want {
			t.Errorf("server sees %s=%q, want %q", name, got, want)
		}
	}
}

// TestCallTimeout bounds a call the server never answers.
func TestCallTimeout(t *testing.T) {
	s := stdioServer("std")
	s.CallTimeout = config.Duration(200 * time.Millisecond)
	g := startGateway(t, nil, s)
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	res := call(t, cs, "std__slow", map[string]any{"ms": 5000})
	if !res.IsError || !strings.Contains(mcptest.Text(res), "did not answer within 200ms") {
		t.Errorf("slow call = %q, want a timeout error", mcptest.Text(res))
	}
}

// TestCancellation cancels a call downstream and checks the gateway is
// free again at once.
func TestCancellation(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "std__slow", Arguments: map[string]any{"ms": 10000}})
	if err == nil {
		t.Fatal("cancelled call succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	waitFor(t, func() bool { return len(g.flights.on(g.backends[0])) == 0 }, "the cancelled flight to end")
}

// denyTool denies calls to one tool and rewrites echo arguments, to check
// what the agent sees for each kind of verdict.
type denyTool struct{}

func (denyTool) Name() string { return "test-policy" }
func (denyTool) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	switch {
	case c.Method == "tools/call" && c.Name == "add":
		return pipeline.DenyVerdict("test.no_add", "adding is not allowed here"), nil
	case c.Method == "prompts/get":
		return pipeline.DenyVerdict("test.no_prompts", "prompts are off"), nil
	case c.Method == "tools/call" && c.Name == "env":
		return pipeline.Verdict{}, errors.New("policy store unavailable")
	case c.Method == "tools/call" && c.Name == "echo":
		var p map[string]any
		_ = json.Unmarshal(c.Params, &p)
		p["arguments"] = map[string]any{"text": "rewritten"}
		c.Params, _ = json.Marshal(p)
	}
	return pipeline.Allow, nil
}

func (denyTool) Response(_ context.Context, c *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	if c.Method == "resources/read" {
		return nil, pipeline.DenyVerdict("test.no_reads", "reads are blocked"), nil
	}
	return res, pipeline.Allow, nil
}

func TestPipelineVerdicts(t *testing.T) {
	g := startGateway(t, pipeline.NewChain(denyTool{}), stdioServer("std"))
	cs := connectMemory(t, g, newAgent(), "2025-11-25")
	ctx := context.Background()

	res := call(t, cs, "std__add", map[string]any{"a": 1, "b": 2})
	if !res.IsError || !strings.Contains(mcptest.Text(res), "rule test.no_add") || !strings.Contains(mcptest.Text(res), "adding is not allowed here") {
		t.Errorf("denied tools/call = %q, want an isError result naming the rule and reason", mcptest.Text(res))
	}
	res = call(t, cs, "std__env", map[string]any{"name": "PATH"})
	if !res.IsError || !strings.Contains(mcptest.Text(res), pipeline.RuleControlError) {
		t.Errorf("failing control = %q, want a denial naming %s", mcptest.Text(res), pipeline.RuleControlError)
	}
	if got := mcptest.Text(call(t, cs, "std__echo", map[string]any{"text": "original"})); got != "rewritten" {
		t.Errorf("rewritten echo = %q, want rewritten", got)
	}
	_, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "std__greet", Arguments: map[string]string{"name": "x"}})
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) || werr.Code != pipeline.CodeDenied || !strings.Contains(werr.Message, "prompts are off") {
		t.Errorf("denied prompts/get error = %v, want JSON-RPC %d with the reason", err, pipeline.CodeDenied)
	}
	_, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://std/hello"})
	if !errors.As(err, &werr) || !strings.Contains(werr.Message, "reads are blocked") {
		t.Errorf("response denial = %v, want the reason", err)
	}
}
