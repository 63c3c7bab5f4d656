package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/mcptest"
)

// TestGatewayFilesystemServerSandboxed runs the real npm
// @modelcontextprotocol/server-filesystem behind `mcpwarden gateway`,
// sandboxed with one allowed directory. The server itself is told it may
// use the parent directory, which holds a canary, so only the sandbox
// stands between it and the canary; a write outside fails the same way.
func TestGatewayFilesystemServerSandboxed(t *testing.T) {
	dir := peersDir(t)
	server := filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js")
	parent := t.TempDir()
	allowed := filepath.Join(parent, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(allowed, "note.txt"), []byte("hello from the allowed directory"), 0o644)
	canary := filepath.Join(parent, "canary.txt")
	os.WriteFile(canary, []byte("CANARY-OUTSIDE-THE-SANDBOX"), 0o644)

	cfg := fmt.Sprintf(`version: 1
servers:
  fs:
    command: node
    args: [%q, %q]
    sandbox:
      read_only: [%q]
      read_write: [%q]
`, server, parent, filepath.Join(dir, "node_modules"), allowed)
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	read := func(path string) (string, bool) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs__read_text_file", Arguments: map[string]any{"path": path}})
		if err != nil {
			t.Fatalf("read_text_file %s: %v", path, err)
		}
		return mcptest.Text(res), res.IsError
	}
	if text, isErr := read(filepath.Join(allowed, "note.txt")); isErr || !strings.Contains(text, "hello from the allowed directory") {
		t.Errorf("allowed file = %q (error %v)", text, isErr)
	}
	if text, isErr := read(canary); !isErr || strings.Contains(text, "CANARY-OUTSIDE") {
		t.Errorf("canary outside the sandbox = %q (error %v), want an error and no content", text, isErr)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{"path": filepath.Join(parent, "planted.txt"), "content": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, statErr := os.Stat(filepath.Join(parent, "planted.txt")); statErr == nil {
		t.Errorf("the sandboxed server wrote outside its allowed directory (result %q)", mcptest.Text(res))
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{"path": filepath.Join(allowed, "ok.txt"), "content": "inside"}})
	if err != nil || res.IsError {
		t.Fatalf("write inside = %v %v", mcptest.Text(res), err)
	}
	if b, _ := os.ReadFile(filepath.Join(allowed, "ok.txt")); string(b) != "inside" {
		t.Errorf("write inside the allowed directory did not reach the host: %q", b)
	}
}

// TestGatewayAuditsEgress lets a sandboxed server reach out through the
// egress proxy and checks that the denied connection is in the audit log,
// naming the tool call that caused it.
func TestGatewayAuditsEgress(t *testing.T) {
	cmd, env := mcptest.Command("go")
	cfg := fmt.Sprintf(`version: 1
servers:
  go:
    command: %q
    env: {%s: %q}
    sandbox:
      read_only: [%q]
      network: egress
      egress:
        allow: ["allowed.invalid:80"]
`, cmd, mcptest.EnvServe, env[mcptest.EnvServe], filepath.Dir(cmd))
	p := startGateway(t, cfg)
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	text, _ := callText(t, cs, "go__fetch", map[string]any{"url": "http://blocked.invalid/secret"})
	if strings.HasPrefix(text, "200") {
		t.Fatalf("the sandboxed server reached a host outside its allowlist: %q", text)
	}
	db := filepath.Join(os.Getenv("XDG_STATE_HOME"), "mcpwarden", "audit.db")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(testbinPath(t), "audit", "query", "--db", db, "--server", "go", "--decision", "deny", "--format", "json").CombinedOutput()
		if err == nil && strings.Contains(string(out), "blocked.invalid") && strings.Contains(string(out), "tools/call fetch") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audited egress denial naming the call: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
