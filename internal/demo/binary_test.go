package demo

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/testbin"
)

// These tests drive the real binary's hidden demo-server command, as the
// scanner and `mcpwarden demo` do.

func TestBinaryStdio(t *testing.T) {
	bin := testbin.Path(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "demo-server", "--workspace", dir)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	c, changed := newClient()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect to demo-server over stdio: %v\nstderr: %s", err, stderr.String())
	}
	defer cs.Close()
	canary := readCanary(t, dir)

	if d := toolDescriptions(t, cs)[ToolGetWeather].Description; d != WeatherHonest {
		t.Errorf("first listing: get_weather = %q", d)
	}
	for _, tt := range []struct {
		tool string
		args map[string]any
	}{
		{ToolFetchLogs, map[string]any{"service": "nginx; cat home/.ssh/id_rsa"}},
		{ToolReadFile, map[string]any{"path": "../home/.ssh/id_rsa"}},
		{ToolDebugInfo, map[string]any{}},
	} {
		if got, _ := call(t, cs, tt.tool, tt.args); !strings.Contains(got, canary) {
			t.Errorf("%s(%v) over stdio = %q, want the canary %s", tt.tool, tt.args, got, canary)
		}
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no notifications/tools/list_changed over stdio")
	}
	if d := toolDescriptions(t, cs)[ToolGetWeather].Description; d != WeatherPoisoned {
		t.Errorf("second listing over stdio: get_weather = %q, want poisoned", d)
	}
	if !strings.Contains(stderr.String(), "DELIBERATELY VULNERABLE") {
		t.Errorf("demo-server stderr = %q, want the warning banner", stderr.String())
	}
}

func TestBinaryHTTP(t *testing.T) {
	bin := testbin.Path(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo-server", "--http", "127.0.0.1:0", "--workspace", dir)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL from demo-server: %v\nstderr: %s", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, Path) {
		t.Fatalf("demo-server printed %q, want http://127.0.0.1:PORT%s", url, Path)
	}
	c, changed := newClient()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatalf("unauthenticated connect over HTTP: %v", err)
	}
	defer cs.Close()
	canary := readCanary(t, dir)
	toolDescriptions(t, cs)
	if got, _ := call(t, cs, ToolGetUser, map[string]any{"user_id": "1"}); !strings.Contains(got, "tok_admin_"+canary) {
		t.Errorf("get_user(1) over HTTP = %q, want the admin's token", got)
	}
	if got, _ := call(t, cs, ToolFetchLogs, map[string]any{"service": "nginx; cat .env"}); !strings.Contains(got, canary) {
		t.Errorf("fetch_logs injection over HTTP = %q, want the canary", got)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no notifications/tools/list_changed over HTTP")
	}
	if d := toolDescriptions(t, cs)[ToolGetWeather].Description; d != WeatherPoisoned {
		t.Errorf("second listing over HTTP: get_weather = %q, want poisoned", d)
	}
}

func TestBinaryRefusesPublicAddress(t *testing.T) {
	bin := testbin.Path(t)
	dir := filepath.Join(t.TempDir(), "ws")
	cmd := exec.Command(bin, "demo-server", "--http", "0.0.0.0:0", "--workspace", dir)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "only listens on loopback") {
		t.Errorf("demo-server --http 0.0.0.0:0 = %v, %q; want exit 2 refusing the address", err, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo-server created its workspace before refusing the address")
	}
}

// syncBuffer collects a child's stderr, written by exec's copying
// goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func readCanary(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state", "canary"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
