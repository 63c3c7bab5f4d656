package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/testbin"
)

func goClient(t *testing.T, url, rev string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "go-e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callText(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return mcptest.Text(res), res.IsError
}

// TestGatewayDrainsOnSIGTERM sends SIGTERM while a call is in flight: the
// call completes, new calls are refused, /healthz says draining, and the
// process exits cleanly.
func TestGatewayDrainsOnSIGTERM(t *testing.T) {
	p := startGateway(t, "version: 1\nservers:\n"+testServer("go"))
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	type out struct {
		text string
		err  error
	}
	done := make(chan out, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "go__slow", Arguments: map[string]any{"ms": 1500}})
		done <- out{mcptest.Text(res), err}
	}()
	time.Sleep(400 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	base := strings.TrimSuffix(p.addr, "/mcp")
	if resp, err := http.Get(base + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "draining") {
			t.Errorf("healthz while draining = %d %s, want 503 draining", resp.StatusCode, b)
		}
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "go__echo", Arguments: map[string]any{"text": "late"}}); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("call during drain = %v, want a shutting-down error", err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.text != "slept" {
			t.Errorf("in-flight call = %q, %v; want it to complete", r.text, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight call did not complete")
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("gateway exit = %v, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not exit after draining")
	}
}

// TestGatewayRestartsCrashedServer kills an upstream with a call in flight.
func TestGatewayRestartsCrashedServer(t *testing.T) {
	p := startGateway(t, "version: 1\nservers:\n"+testServer("go"))
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2026-07-28")
	text, isErr := callText(t, cs, "go__crash", nil)
	if !isErr || !strings.Contains(text, `upstream server "go"`) {
		t.Errorf("crash = %q (isError %v), want a tool error naming the server", text, isErr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "go__echo", Arguments: map[string]any{"text": "again"}})
		cancel()
		if err == nil && !res.IsError && mcptest.Text(res) == "again" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come back: %v %v", res, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "server exited; restarting") {
		t.Error("the restart was not logged")
	}
}

// TestLegacySSE uses legacy HTTP+SSE on both sides: server-everything in
// its SSE mode upstream, and the go-sdk SSE client downstream.
func TestLegacySSE(t *testing.T) {
	url := startEverything(t, "sse", "/sse")
	p := startGateway(t, "version: 1\nservers:\n  legacy:\n    url: "+url+"\n    transport: sse\n")
	p.waitHealthy(t)
	c := mcp.NewClient(&mcp.Implementation{Name: "sse-client", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: p.addr + "/sse"}, nil)
	if err != nil {
		t.Fatalf("SSE client: %v", err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "legacy__echo", Arguments: map[string]any{"message": "over sse"}})
	if err != nil || !strings.Contains(mcptest.Text(res), "over sse") {
		t.Errorf("echo over SSE both ways = %v, %v", res, err)
	}
}

// TestWrapScrubsEnvironment checks that the wrapped server sees neither
// mcpwarden's environment nor anything but the base and --env variables.
func TestWrapScrubsEnvironment(t *testing.T) {
	dir := peersDir(t)
	cmd := exec.Command(testbin.Path(t), "wrap", "--ro", dir, "--env", "PASSED_ON", "--env", "SET_HERE=yes", "--", "node", filepath.Join(dir, "server-everything.mjs"), "stdio")
	cmd.Env = append(os.Environ(), "MCPW_CANARY_TOKEN=canary-do-not-leak", "PASSED_ON=passed")
	env := rawSession(t, cmd, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get-env","arguments":{}}}`)
	var got struct {
		Result struct {
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal([]byte(env), &got); err != nil || len(got.Result.Content) == 0 {
		t.Fatalf("get-env answer %q: %v", env, err)
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(got.Result.Content[0].Text), &vars); err != nil {
		t.Fatal(err)
	}
	if _, ok := vars["MCPW_CANARY_TOKEN"]; ok {
		t.Error("the server saw mcpwarden's MCPW_CANARY_TOKEN")
	}
	if vars["PASSED_ON"] != "passed" || vars["SET_HERE"] != "yes" {
		t.Errorf("declared variables = %q, %q", vars["PASSED_ON"], vars["SET_HERE"])
	}
	for k := range vars {
		switch k {
		case "PATH", "HOME", "LANG", "TMPDIR", "PASSED_ON", "SET_HERE":
		default:
			if !strings.HasPrefix(k, "npm_") && k != "NODE" && k != "_" && k != "PWD" && k != "SHLVL" && k != "OLDPWD" {
				t.Errorf("unexpected variable %s in the server's environment", k)
			}
		}
	}
}

// rawSession initializes over stdio by hand, sends one request and returns
// the response line with its id (2).
func rawSession(t *testing.T, cmd *exec.Cmd, request string) string {
	t.Helper()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	fmt.Fprintln(stdin, request)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stdout closed before the answer")
			}
			if strings.Contains(l, `"id":2`) {
				return l
			}
		case <-timeout:
			t.Fatal("no answer")
		}
	}
}

// TestWrapBadInput sends malformed lines to the binary over stdio.
func TestWrapBadInput(t *testing.T) {
	cmd := exec.Command(testbin.Path(t), "wrap", "--ro", filepath.Dir(os.Args[0]), "--", os.Args[0])
	cmd.Env = append(os.Environ(), mcptest.EnvServe+"=go")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	next := func() map[string]any {
		if !sc.Scan() {
			t.Fatalf("no response: %v", sc.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("response %q: %v", sc.Text(), err)
		}
		return m
	}
	// wrap passes the environment through only when asked: the test
	// server needs MCPTEST_SERVE to start, which it does not get, so this
	// checks the bad-input path against the gateway itself.
	fmt.Fprintln(stdin, `not json at all`)
	if m := next(); m["error"] == nil {
		t.Errorf("garbage = %v, want a parse error", m)
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if m := next(); m["result"] == nil {
		t.Errorf("initialize after garbage = %v", m)
	}
}

// TestGatewayExportsTraces turns on the audit log's OpenTelemetry sink and
// checks that a call's span reaches an OTLP/HTTP receiver on loopback,
// configured by the standard environment variables.
func TestGatewayExportsTraces(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.URL.Path == "/v1/traces" {
			bodies = append(bodies, b)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	p := startGateway(t, "version: 1\nservers:\n"+testServer("go")+"policy:\n  audit:\n    sinks: {sqlite: ./audit.db, otel: true}\n")
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	if text, _ := callText(t, cs, "go__echo", map[string]any{"text": "traced"}); text != "traced" {
		t.Fatalf("echo = %q", text)
	}
	p.stop(t) // shutting down flushes the batch
	mu.Lock()
	defer mu.Unlock()
	all := bytes.Join(bodies, nil)
	for _, want := range []string{"mcpwarden", "tools/call", "echo"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("the exported spans (%d requests) do not mention %q", len(bodies), want)
		}
	}
}
