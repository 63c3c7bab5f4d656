package sandbox

import (
	"os"
	"testing"
)

// TestMain lets the test binary play two roles besides running tests:
// the sandbox init (Options.InitPath points here) and, when the
// attackEnv variable is set, the attacker program run inside a sandbox.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == InitCommand {
		os.Exit(RunInit())
	}
	if name := os.Getenv(attackEnv); name != "" {
		os.Exit(attack(name, os.Args[1:]))
	}
	os.Exit(m.Run())
}
