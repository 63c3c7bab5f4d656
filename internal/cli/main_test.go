package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"mcpwarden/internal/testbin"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }

// result is what a run of the binary produced.
type result struct {
	code           int
	stdout, stderr string
}

// runBin runs the built binary with env added to the environment and
// stdin as its input.
func runBin(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testbin.Path(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}
