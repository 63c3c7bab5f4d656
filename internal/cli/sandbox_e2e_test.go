package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/testbin"
)

// peersDir is test/peers of this checkout, where scripts/test installs
// the pinned npm MCP servers.
func peersDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "peers")
}

// TestRunFilesystemServer runs the real npm @modelcontextprotocol/server-filesystem
// under `mcpwarden run`, talking MCP to it over stdio with the official Go
// SDK. The server is told it may use the parent of the allowed directory,
// which also holds a canary; only the sandbox stands between it and the
// canary. The same calls without isolation (--backend none) show that the
// canary would otherwise be read.
func TestRunFilesystemServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIP: node is not installed")
	}
	modules := filepath.Join(peersDir(), "node_modules")
	server := filepath.Join(modules, "@modelcontextprotocol", "server-filesystem", "dist", "index.js")
	if _, err := os.Stat(server); err != nil {
		t.Skipf("SKIP: %s is missing; run 'cd test/peers && npm ci'", server)
	}
	bin := testbin.Path(t)
	parent := t.TempDir()
	allowed := filepath.Join(parent, "allowed")
	os.Mkdir(allowed, 0o755)
	os.WriteFile(filepath.Join(allowed, "note.txt"), []byte("hello from the allowed directory"), 0o644)
	canary := filepath.Join(parent, "canary.txt")
	os.WriteFile(canary, []byte("CANARY-OUTSIDE"), 0o644)

	call := func(t *testing.T, backend string) (note, canaryText string, canaryErr bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "run", "--name", "filesystem", "--backend", backend,
			"--ro", modules, "--rw", allowed, "--", node, server, parent)
		cmd.Stderr = &stderr
		client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-test", Version: "1"}, nil)
		session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			t.Fatalf("connecting to the sandboxed server: %v\nstderr:\n%s", err, stderr.String())
		}
		defer session.Close()
		read := func(path string) (string, bool) {
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": path}})
			if err != nil {
				t.Fatalf("read_text_file %s: %v\nstderr:\n%s", path, err, stderr.String())
			}
			var text strings.Builder
			for _, c := range res.Content {
				if tc, ok := c.(*mcp.TextContent); ok {
					text.WriteString(tc.Text)
				}
			}
			return text.String(), res.IsError
		}
		note, noteErr := read(filepath.Join(allowed, "note.txt"))
		if noteErr {
			t.Errorf("reading the allowed file failed: %s", note)
		}
		canaryText, canaryErr = read(canary)
		return note, canaryText, canaryErr
	}

	t.Run("sandboxed", func(t *testing.T) {
		note, canaryText, canaryErr := call(t, "auto")
		if !strings.Contains(note, "hello from the allowed directory") {
			t.Errorf("allowed file = %q, want its content", note)
		}
		if !canaryErr || strings.Contains(canaryText, "CANARY-OUTSIDE") {
			t.Errorf("canary read = %q (error %v), want an error and no content", canaryText, canaryErr)
		}
		if !strings.Contains(canaryText, "ENOENT") {
			t.Errorf("canary error = %q, want ENOENT from the sandbox (not the server's own path check)", canaryText)
		}
	})
	t.Run("control without isolation", func(t *testing.T) {
		_, canaryText, canaryErr := call(t, "none")
		if canaryErr || !strings.Contains(canaryText, "CANARY-OUTSIDE") {
			t.Errorf("unsandboxed canary read = %q (error %v); the sandboxed test above proves nothing unless this succeeds", canaryText, canaryErr)
		}
	})
}

func TestRunAndDoctorCLI(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SKIP: sandboxing is Linux-only")
	}
	bin := testbin.Path(t)
	dir := t.TempDir()
	badProfile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badProfile, []byte("network: none\nread_onyl: [/x]\n"), 0o644)
	goodProfile := filepath.Join(dir, "good.yaml")
	os.WriteFile(goodProfile, []byte("network: none\nread_write: ["+dir+"]\n"), 0o644)
	t.Setenv("MCPWARDEN_CANARY_SECRET", "canary")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "exit status passes through", args: []string{"run", "--", "/bin/sh", "-c", "exit 7"}, wantCode: 7},
		{name: "environment is scrubbed", args: []string{"run", "--env", "DECLARED=yes", "--", "/bin/sh", "-c", "echo declared=$DECLARED canary=$MCPWARDEN_CANARY_SECRET home=$HOME"}, wantStdout: "declared=yes canary= home=/home/sandbox"},
		{name: "profile file", args: []string{"run", "--profile", goodProfile, "--", "/bin/sh", "-c", "echo ok > " + dir + "/out && cat " + dir + "/out"}, wantStdout: "ok"},
		{name: "unknown profile field", args: []string{"run", "--profile", badProfile, "--", "/bin/true"}, wantCode: ExitUsage, wantStderr: "field read_onyl not found"},
		{name: "unknown built-in", args: []string{"run", "--profile", "nosuch", "--", "/bin/true"}, wantCode: ExitUsage, wantStderr: "not a built-in profile (node, npx, python, strict, uvx)"},
		{name: "bad network", args: []string{"run", "--network", "wifi", "--", "/bin/true"}, wantCode: ExitUsage, wantStderr: `--network "wifi"`},
		{name: "missing command", args: []string{"run"}, wantCode: ExitUsage},
		{name: "command not found", args: []string{"run", "--", "no-such-program"}, wantCode: ExitFailure, wantStderr: `command "no-such-program" not found`},
		{name: "doctor", args: []string{"sandbox", "doctor"}, wantStdout: "landlock (files)"},
		{name: "doctor for npx", args: []string{"sandbox", "doctor", "--command", "npx"}, wantStdout: "registry.npmjs.org:443"},
		{name: "doctor with an impossible backend", args: []string{"sandbox", "doctor", "--backend", "gvisor", "--network", "egress"}, wantCode: ExitFailure, wantStdout: "CANNOT START"},
		{name: "init refuses to run by hand", args: []string{"__sandbox-init"}, wantCode: 125, wantStderr: "run by mcpwarden itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if xe, ok := err.(*exec.ExitError); ok {
				code = xe.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("mcpwarden %q = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.args, code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("mcpwarden %q stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("mcpwarden %q stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}
