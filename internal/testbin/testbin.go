// Package testbin builds the mcpwarden binary once per test process so
// end-to-end tests drive the real program, as users and CI do.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once    sync.Once
	binPath string
	errOut  []byte
	err     error
)

// Path returns the path of a freshly built mcpwarden binary. The build
// happens once per test process; later calls reuse it. A build failure
// fails the test.
func Path(tb testing.TB) string {
	tb.Helper()
	once.Do(build)
	if err != nil {
		tb.Fatalf("building mcpwarden: %v\n%s", err, errOut)
	}
	return binPath
}

// moduleRoot finds the directory holding go.mod from this source file, so
// tests in any package can build the command.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func build() {
	dir, e := os.MkdirTemp("", "mcpwarden-bin-")
	if e != nil {
		err = e
		return
	}
	binPath = filepath.Join(dir, "mcpwarden")
	cmd := exec.Command("go", "build", "-o", binPath, "./cmd/mcpwarden")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	errOut, err = cmd.CombinedOutput()
}

// Main runs the tests of a package that uses [Path] and removes the built
// binary afterwards. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}
