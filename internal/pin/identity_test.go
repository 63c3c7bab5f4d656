package pin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandIdentity(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "srv")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "index.js")
	if err := os.WriteFile(script, []byte("console.log(1)"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := func(p string) string {
		b, _ := os.ReadFile(p)
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	look := func(name string) (string, error) {
		if name == "srv" || name == "node" {
			return filepath.Join(dir, "srv"), nil
		}
		return "", errors.New("not found")
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		cmd, args string
		want      Identity
		err       string
	}{
		{"npx", "-y @scope/pkg@1.2.3", Identity{Key: "npm:@scope/pkg", ID: "npm:@scope/pkg@1.2.3", Pinned: true}, ""},
		{"npx", "-y @scope/pkg", Identity{Key: "npm:@scope/pkg", ID: "npm:@scope/pkg", Note: "no exact version or digest: the registry decides what runs"}, ""},
		{"npx", "pkg@latest", Identity{Key: "npm:pkg", ID: "npm:pkg@latest", Note: "no exact version or digest: the registry decides what runs"}, ""},
		{"uvx", "mcp-server-git==0.6.2", Identity{Key: "pypi:mcp-server-git", ID: "pypi:mcp-server-git==0.6.2", Pinned: true}, ""},
		{"uvx", "Mcp_Time@1.0", Identity{Key: "pypi:mcp-time", ID: "pypi:mcp-time==1.0", Pinned: true}, ""},
		{"pipx", "run pkg>=1", Identity{Key: "pypi:pkg", ID: "pypi:pkg>=1", Note: "no exact version or digest: the registry decides what runs"}, ""},
		{"docker", "run -i --rm ghcr.io/o/img:1.0@" + digest, Identity{Key: "docker:ghcr.io/o/img", ID: "docker:ghcr.io/o/img:1.0@" + digest, Pinned: true}, ""},
		{"docker", "run -i mcp/fetch", Identity{Key: "docker:mcp/fetch", ID: "docker:mcp/fetch", Note: "no exact version or digest: the registry decides what runs"}, ""},
		{"cmd", "/c npx -y pkg@2.0.0", Identity{Key: "npm:pkg", ID: "npm:pkg@2.0.0", Pinned: true}, ""},
		{"srv", "--stdio", Identity{Key: "bin:" + bin, ID: "bin:" + bin + "@sha256:" + sum(bin), Pinned: true}, ""},
		{bin, "", Identity{Key: "bin:" + bin, ID: "bin:" + bin + "@sha256:" + sum(bin), Pinned: true}, ""},
		{"./srv", "", Identity{Key: "bin:" + bin, ID: "bin:" + bin + "@sha256:" + sum(bin), Pinned: true}, ""},
		{"node", "index.js", Identity{Key: "file:" + script, ID: "file:" + script + "@sha256:" + sum(script), Pinned: true}, ""},
		{"python3", "-m my_server", Identity{Key: "pymod:my_server", ID: "pymod:my_server", Note: "a Python module from the interpreter's environment: its version is not in the command"}, ""},
		{"missing-bin", "", Identity{Key: "cmd:missing-bin", ID: "cmd:missing-bin", Note: "command not found"}, "not found"},
		{"node", "gone.js", Identity{Key: "file:" + filepath.Join(dir, "gone.js"), ID: "file:" + filepath.Join(dir, "gone.js"), Note: "file could not be read: no content hash"}, "no such file"},
	}
	for _, tt := range tests {
		var args []string
		if tt.args != "" {
			args = strings.Fields(tt.args)
		}
		got, err := CommandIdentity(tt.cmd, args, IdentityOptions{LookPath: look, Dir: dir})
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("CommandIdentity(%q, %q) error = %v, want %q", tt.cmd, tt.args, err, tt.err)
		}
		if got != tt.want {
			t.Errorf("CommandIdentity(%q, %q) = %+v, want %+v", tt.cmd, tt.args, got, tt.want)
		}
	}
	sh, _ := CommandIdentity("sh", []string{"-c", "server $TOKEN | tee log"}, IdentityOptions{LookPath: look})
	if !strings.HasPrefix(sh.Key, "shell:sh:") || sh.Pinned || strings.Contains(sh.Key, "TOKEN") {
		t.Errorf("shell identity = %+v, want an opaque unpinned shell: key", sh)
	}
}

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"HTTPS://User:Pass@MCP.Example.COM:443/mcp?token=secret#frag", "https://mcp.example.com/mcp", ""},
		{"http://example.com:80", "http://example.com/", ""},
		{"http://example.com:8080/a%2Fb/", "http://example.com:8080/a%2Fb/", ""},
		{"https://[::1]:443/x", "https://[::1]/x", ""},
		{"https://[::1]:8443/x", "https://[::1]:8443/x", ""},
		{"https://example.com./mcp", "https://example.com/mcp", ""},
		{"ftp://example.com", "", "want http or https"},
		{"https://user:pw@/x", "", "has no host"},
	}
	for _, tt := range tests {
		got, err := NormalizeURL(tt.in)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("NormalizeURL(%q) error leaks credentials: %v", tt.in, err)
		}
	}
	id, err := URLIdentity("https://h.example/mcp?key=abc")
	if err != nil || id.Key != "https://h.example/mcp" || id.ID != id.Key || id.Pinned || !strings.Contains(id.Note, "query dropped") {
		t.Errorf("URLIdentity = %+v, %v", id, err)
	}
}
