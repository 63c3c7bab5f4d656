//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/testbin"
)

// TestWrapNodeClientEverything runs the official TypeScript SDK client
// against `mcpwarden wrap` in front of server-everything over stdio: the
// whole feature surface of revision 2025-11-25 through the binary.
func TestWrapNodeClientEverything(t *testing.T) {
	dir := peersDir(t)
	steps := []map[string]any{
		{"op": "listTools"}, // 0
		{"op": "callTool", "name": "echo", "arguments": map[string]any{"message": "through wrap"}},                                             // 1
		{"op": "callTool", "name": "get-sum", "arguments": map[string]any{"a": 2, "b": 40}},                                                    // 2
		{"op": "waitTool", "name": "trigger-sampling-request"},                                                                                 // 3
		{"op": "callTool", "name": "trigger-sampling-request", "arguments": map[string]any{"prompt": "ping"}},                                  // 4
		{"op": "callTool", "name": "trigger-elicitation-request"},                                                                              // 5
		{"op": "callTool", "name": "get-roots-list"},                                                                                           // 6
		{"op": "callTool", "name": "trigger-long-running-operation", "arguments": map[string]any{"duration": 1, "steps": 3}, "progress": true}, // 7
		{"op": "listPrompts"}, // 8
		{"op": "getPrompt", "name": "args-prompt", "arguments": map[string]any{"city": "Lisbon"}},                                                                     // 9
		{"op": "complete", "ref": map[string]any{"type": "ref/prompt", "name": "completable-prompt"}, "argument": map[string]any{"name": "department", "value": "E"}}, // 10
		{"op": "listResources"},                                         // 11
		{"op": "listResourceTemplates"},                                 // 12
		{"op": "readResource", "uri": "demo://resource/dynamic/text/1"}, // 13
		{"op": "cancelTool", "name": "trigger-long-running-operation", "arguments": map[string]any{"duration": 30, "steps": 30}, "afterMs": 500}, // 14
		{"op": "callTool", "name": "echo", "arguments": map[string]any{"message": "still alive"}},                                                // 15
	}
	r := runNode(t, map[string]any{
		"transport": "stdio",
		"command":   testbinPath(t),
		"args":      []string{"wrap", "--log-level", "debug", "--ro", dir, "--", "node", dir + "/server-everything.mjs", "stdio"},
		"steps":     steps,
	})
	if r.Protocol != "2025-11-25" {
		t.Errorf("negotiated %q, want 2025-11-25", r.Protocol)
	}
	if !strings.Contains(r.Instructions, "Everything Server") {
		t.Errorf("instructions were not relayed: %q", r.Instructions)
	}
	var tools []string
	r.ok(t, 0, &tools)
	if !slices.Contains(tools, "echo") || slices.ContainsFunc(tools, func(s string) bool { return strings.Contains(s, "__") }) {
		t.Errorf("wrap tools = %v, want the server's own names", tools)
	}
	type callRes struct {
		Text     string
		IsError  bool
		Progress []float64
	}
	var c callRes
	r.ok(t, 1, &c)
	if !strings.Contains(c.Text, "through wrap") {
		t.Errorf("echo = %+v", c)
	}
	r.ok(t, 2, &c)
	if !strings.Contains(c.Text, "42") {
		t.Errorf("get-sum = %+v", c)
	}
	r.ok(t, 4, &c)
	if !strings.Contains(c.Text, "node sampled") {
		t.Errorf("sampling round trip = %+v", c)
	}
	r.ok(t, 5, &c)
	if !strings.Contains(c.Text, "Node Tester") {
		t.Errorf("elicitation round trip = %+v", c)
	}
	r.ok(t, 6, &c)
	if !strings.Contains(c.Text, "file:///node-root") {
		t.Errorf("roots round trip = %+v", c)
	}
	r.ok(t, 7, &c)
	if len(c.Progress) != 3 || c.IsError {
		t.Errorf("long-running operation = %+v, want 3 progress notifications", c)
	}
	var prompts []string
	r.ok(t, 8, &prompts)
	if !slices.Contains(prompts, "args-prompt") {
		t.Errorf("prompts = %v", prompts)
	}
	var msgs []string
	r.ok(t, 9, &msgs)
	if len(msgs) == 0 || !strings.Contains(strings.Join(msgs, " "), "Lisbon") {
		t.Errorf("args-prompt = %v", msgs)
	}
	var comp []string
	r.ok(t, 10, &comp)
	if !slices.Equal(comp, []string{"Engineering"}) {
		t.Errorf("completion = %v", comp)
	}
	var res, tmpls []string
	r.ok(t, 11, &res)
	r.ok(t, 12, &tmpls)
	if len(res) == 0 || !slices.Contains(tmpls, "demo://resource/dynamic/text/{resourceId}") {
		t.Errorf("resources = %v, templates = %v", res, tmpls)
	}
	var contents []string
	r.ok(t, 13, &contents)
	if len(contents) != 1 || contents[0] == "" {
		t.Errorf("template read = %v", contents)
	}
	var cancel struct {
		Cancelled bool
		MS        int
	}
	r.ok(t, 14, &cancel)
	if !cancel.Cancelled || cancel.MS > 10000 {
		t.Errorf("cancellation = %+v", cancel)
	}
	r.ok(t, 15, &c)
	if !strings.Contains(c.Text, "still alive") {
		t.Errorf("echo after cancellation = %+v", c)
	}
}

// TestGatewayNodeClientAggregates runs the TypeScript SDK client over
// Streamable HTTP against `mcpwarden gateway` fronting three servers:
// server-everything over stdio and over its own Streamable HTTP mode, and a
// go-sdk server that speaks 2026-07-28 upstream. Names are namespaced; the
// sampling round trip works through every one of them.
func TestGatewayNodeClientAggregates(t *testing.T) {
	httpURL := startEverythingHTTP(t)
	cfg := "version: 1\nservers:\n" + everythingStdio(t, "evs") + "  evh:\n    url: " + httpURL + "\n" + testServer("gosdk")
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	r := runNode(t, map[string]any{
		"transport": "http",
		"url":       p.addr,
		"steps": []map[string]any{
			{"op": "waitTool", "name": "evs__trigger-sampling-request"},
			{"op": "waitTool", "name": "evh__trigger-sampling-request"},
			{"op": "listTools"},
			{"op": "callTool", "name": "evs__echo", "arguments": map[string]any{"message": "a"}},
			{"op": "callTool", "name": "evh__echo", "arguments": map[string]any{"message": "b"}},
			{"op": "callTool", "name": "gosdk__echo", "arguments": map[string]any{"text": "c"}},
			{"op": "callTool", "name": "evs__trigger-sampling-request", "arguments": map[string]any{"prompt": "one"}},
			{"op": "callTool", "name": "evh__trigger-sampling-request", "arguments": map[string]any{"prompt": "two"}},
			{"op": "callTool", "name": "gosdk__sample", "arguments": map[string]any{"prompt": "three"}},
			{"op": "callTool", "name": "gosdk__progress", "arguments": map[string]any{"steps": 4}, "progress": true},
			{"op": "listResources"},
		},
	})
	var ok bool
	r.ok(t, 0, &ok)
	if !ok {
		t.Fatal("evs__trigger-sampling-request never appeared (list_changed not relayed?)")
	}
	var tools []string
	r.ok(t, 2, &tools)
	for _, want := range []string{"evs__echo", "evh__get-sum", "gosdk__echo", "gosdk__sample"} {
		if !slices.Contains(tools, want) {
			t.Errorf("tools lack %s: %v", want, tools)
		}
	}
	type callRes struct {
		Text     string
		Progress []float64
	}
	for i, want := range map[int]string{3: "a", 4: "b", 5: "c", 6: "node sampled", 7: "node sampled", 8: "model said: node sampled: three"} {
		var c callRes
		r.ok(t, i, &c)
		if !strings.Contains(c.Text, want) {
			t.Errorf("step %d = %q, want %q", i, c.Text, want)
		}
	}
	var c callRes
	r.ok(t, 9, &c)
	if len(c.Progress) != 4 {
		t.Errorf("progress through the gateway = %v, want 4 notifications", c.Progress)
	}
	var uris []string
	r.ok(t, 10, &uris)
	if !slices.Contains(uris, "test://gosdk/hello") {
		t.Errorf("resources = %v", uris)
	}
}

// TestGatewayGoClientCrossRevision drives the gateway binary with go-sdk
// clients of both revisions against server-everything (2025-11-25 only)
// and a go-sdk server (2026-07-28): a 2026-07-28 client gets the 2025
// server's sampling request as input_required, and a 2025-11-25 client
// gets the 2026 server's input_required as a sampling request.
func TestGatewayGoClientCrossRevision(t *testing.T) {
	cfg := "version: 1\nservers:\n" + everythingStdio(t, "ev") + testServer("gosdk")
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(rev, func(t *testing.T) {
			c := mcp.NewClient(&mcp.Implementation{Name: "go-e2e", Version: "1"}, &mcp.ClientOptions{
				CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
					return &mcp.CreateMessageResult{Role: "assistant", Model: "go", Content: &mcp.TextContent{Text: "go sampled " + rev}}, nil
				},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: p.addr, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: rev})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if got := cs.InitializeResult().ProtocolVersion; got != rev {
				t.Fatalf("negotiated %s, want %s", got, rev)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				res, err := cs.ListTools(ctx, nil)
				if err == nil && slices.ContainsFunc(res.Tools, func(tl *mcp.Tool) bool { return tl.Name == "ev__trigger-sampling-request" }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ev__trigger-sampling-request never listed: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			for name, want := range map[string]string{"ev__trigger-sampling-request": "go sampled " + rev, "gosdk__sample": "model said: go sampled " + rev} {
				args := map[string]any{"prompt": "x"}
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				b, _ := json.Marshal(res.Content)
				if !strings.Contains(string(b), want) {
					t.Errorf("%s = %s, want %q", name, b, want)
				}
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "gosdk__echo", Arguments: map[string]any{"text": "go"}})
			if err != nil || mcptest.Text(res) != "go" {
				t.Errorf("gosdk__echo = %v, %v", res, err)
			}
		})
	}
}

// TestWrapClient25Server26 runs `mcpwarden wrap` between a go-sdk client
// on 2025-11-25 and a go-sdk server on 2026-07-28: plain calls take the
// stdio fast path (with the per-request _meta the server needs), a call
// the server answers with input_required becomes a roots request to the
// client, and a call with a progress token takes the ordinary path.
func TestWrapClient25Server26(t *testing.T) {
	server, env := mcptest.Command("std")
	cmd := exec.Command(testbin.Path(t), "wrap", "--ro", filepath.Dir(server), "--", server)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
		cmd.Args = slices.Insert(cmd.Args, 2, "--env", k)
	}
	cmd.Stderr = io.Discard
	var progress atomic.Int32
	c := mcp.NewClient(&mcp.Implementation{Name: "wrap-e2e", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	})
	c.AddRoots(&mcp.Root{URI: "file:///tmp/wrap-root", Name: "root"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for i := range 5 {
		want := fmt.Sprint("fast ", i)
		if txt, isErr := callText(t, cs, "echo", map[string]any{"text": want}); isErr || txt != want {
			t.Fatalf("echo through wrap = %q, want %q", txt, want)
		}
	}
	if txt, isErr := callText(t, cs, "roots", nil); isErr || !strings.Contains(txt, "file:///tmp/wrap-root") {
		t.Errorf("roots (input_required from the server) = %q", txt)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "progress", Arguments: map[string]any{"steps": 3}, Meta: mcp.Meta{"progressToken": "p1"}})
	if err != nil || res.IsError {
		t.Fatalf("progress = %v, %v", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for progress.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := progress.Load(); got != 3 {
		t.Errorf("progress notifications = %d, want 3", got)
	}
}
