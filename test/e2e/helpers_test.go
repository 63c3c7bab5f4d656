package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/testbin"
)

func TestMain(m *testing.M) {
	mcptest.Main()
	// Every mcpwarden these tests start keeps its audit log and caches
	// here, not in the user's home.
	state, err := os.MkdirTemp("", "mcpwarden-e2e-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", state)
	code := testbin.Main(m)
	os.RemoveAll(state)
	os.Exit(code)
}

// peersDir is test/peers, where `npm ci` installs the JS peers.
func peersDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "peers")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		if os.Getenv("MCPWARDEN_REQUIRE_PEERS") == "1" {
			t.Fatalf("the npm peers are not installed in %s (run npm ci there): %v", dir, err)
		}
		t.Skipf("the npm peers are not installed in %s; run `npm ci` there", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("MCPWARDEN_REQUIRE_PEERS") == "1" {
			t.Fatal("node is not installed")
		}
		t.Skip("node is not installed")
	}
	return dir
}

// nodeResult is what test/peers/client.mjs prints.
type nodeResult struct {
	Protocol     string `json:"protocol"`
	Instructions string `json:"instructions"`
	ListChanged  int    `json:"listChanged"`
	Results      []struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	} `json:"results"`
}

func (r *nodeResult) ok(t *testing.T, i int, v any) {
	t.Helper()
	if i >= len(r.Results) {
		t.Fatalf("step %d: no result (got %d)", i, len(r.Results))
	}
	if e := r.Results[i].Error; e != "" {
		t.Fatalf("step %d failed: %s", i, e)
	}
	if err := json.Unmarshal(r.Results[i].OK, v); err != nil {
		t.Fatalf("step %d: %v in %s", i, err, r.Results[i].OK)
	}
}

// runNode runs the TypeScript SDK client with plan and returns what it
// printed.
func runNode(t *testing.T, plan map[string]any) *nodeResult {
	t.Helper()
	dir := peersDir(t)
	if plan["transport"] == "stdio" && plan["env"] == nil {
		// The TypeScript SDK passes only a few variables to the command
		// it starts; mcpwarden needs to know where its state goes.
		plan["env"] = map[string]string{"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"), "XDG_STATE_HOME": os.Getenv("XDG_STATE_HOME")}
	}
	b, _ := json.Marshal(plan)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", string(b))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\nstderr:\n%s", err, tail(stderr.String(), 4000))
	}
	var r nodeResult
	line := bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("node client output %q: %v\nstderr:\n%s", tail(string(out), 2000), err, tail(stderr.String(), 4000))
	}
	if testing.Verbose() {
		t.Logf("node client stderr:\n%s", tail(stderr.String(), 4000))
	}
	return &r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// process is a running mcpwarden binary.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	addr   string
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway runs `mcpwarden gateway` with the given configuration and
// waits until it listens.
func startGateway(t *testing.T, cfg string, extra ...string) *process {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcpwarden.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"gateway", "--config", path, "--listen", "127.0.0.1:0", "--log-level", "debug"}, extra...)
	cmd := exec.Command(testbin.Path(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "mcpwarden gateway listening on "); ok {
				addrCh <- rest
			}
		}
		io.Copy(io.Discard, pr)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() || testing.Verbose() {
			t.Logf("gateway stderr:\n%s", tail(p.stderr.String(), 8000))
		}
	})
	select {
	case p.addr = <-addrCh:
	case err := <-p.done:
		t.Fatalf("gateway exited before listening: %v\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not start listening:\n%s", p.stderr.String())
	}
	return p
}

// waitHealthy polls /healthz until every upstream is up.
func (p *process) waitHealthy(t *testing.T) {
	t.Helper()
	base := strings.TrimSuffix(p.addr, "/mcp")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var out []byte
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			out, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil && bytes.Contains(out, []byte(`"status":"ok"`)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine, which shows
		// what shutdown is waiting for.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Errorf("gateway did not exit on SIGTERM; goroutines:\n%s", goroutineDump(p.stderr.String()))
	}
}

// goroutineDump returns the runtime's SIGQUIT output from a process's
// stderr, or a note that there is none.
func goroutineDump(stderr string) string {
	if i := strings.Index(stderr, "SIGQUIT: quit"); i >= 0 {
		return stderr[i:]
	}
	return "(no goroutine dump)"
}

// testServer is the YAML for a go-sdk test server (mcptest) run as a
// stdio upstream by re-executing this test binary.
func testServer(name string, extra ...string) string {
	cmd, env := mcptest.Command(name)
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:\n    command: %q\n    sandbox:\n      read_only: [%q]\n    env:\n", name, cmd, filepath.Dir(cmd))
	for k, v := range env {
		fmt.Fprintf(&b, "      %s: %q\n", k, v)
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	return b.String()
}

// everythingStdio is the YAML for server-everything over stdio.
func everythingStdio(t *testing.T, name string) string {
	dir := peersDir(t)
	return fmt.Sprintf("  %s:\n    command: node\n    args: [%q, stdio]\n    cwd: %q\n    sandbox:\n      read_only: [%q]\n", name, filepath.Join(dir, "server-everything.mjs"), dir, dir)
}

// startEverythingHTTP runs server-everything's Streamable HTTP mode on a
// free loopback port and returns its URL.
func startEverythingHTTP(t *testing.T) string {
	return startEverything(t, "streamableHttp", "/mcp")
}

// startEverything runs server-everything in an HTTP mode (streamableHttp
// or sse) and returns the URL of path on it.
func startEverything(t *testing.T, mode, path string) string {
	t.Helper()
	dir := peersDir(t)
	port := freePort(t)
	cmd := exec.Command("node", "server-everything.mjs", mode)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + addr + path
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func testbinPath(t *testing.T) string { return testbin.Path(t) }
