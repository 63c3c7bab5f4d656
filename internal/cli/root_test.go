package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{name: "version", args: []string{"version"}, wantCode: ExitOK, wantStdout: "mcpwarden "},
		{name: "unknown command", args: []string{"nosuch"}, wantCode: ExitUsage, wantStderr: `unknown command "nosuch"`},
		{name: "unknown flag", args: []string{"--nosuch"}, wantCode: ExitUsage, wantStderr: "unknown flag"},
		{name: "extra argument", args: []string{"version", "x"}, wantCode: ExitUsage, wantStderr: "mcpwarden version: unknown command"},
		{name: "help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "Usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("Run(%q) = %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("Run(%q) stderr = %q, want it to contain %q", tt.args, stderr, tt.wantStderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("Run(%q) stdout = %q, want it to contain %q", tt.args, stdout, tt.wantStdout)
			}
		})
	}
}
