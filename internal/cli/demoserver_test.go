package cli

import (
	"strings"
	"testing"
)

func TestDemoServerCommand(t *testing.T) {
	code, stdout, _ := run(t, "--help")
	if code != ExitOK || strings.Contains(stdout, "demo-server") {
		t.Errorf("mcpwarden --help = %d, lists demo-server: %v; want it hidden", code, strings.Contains(stdout, "demo-server"))
	}
	code, _, stderr := run(t, "demo-server", "--http", "0.0.0.0:0", "--workspace", t.TempDir()+"/ws")
	if code != ExitUsage || !strings.Contains(stderr, "only listens on loopback") {
		t.Errorf("demo-server --http 0.0.0.0:0 = %d, %q; want a usage error refusing the address", code, stderr)
	}
	code, _, stderr = run(t, "demo-server", "extra")
	if code != ExitUsage {
		t.Errorf("demo-server extra = %d, %q; want exit %d", code, stderr, ExitUsage)
	}
}
