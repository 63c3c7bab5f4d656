//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// On this OS no backend but none exists: mcpwarden refuses to start a
// sandboxed server unless its profile says backend: none.
func probe(context.Context, func() (string, error), []string) Features {
	why := fmt.Sprintf("sandboxing is implemented for Linux only; on %s nothing is enforced (no filesystem, network, process or resource isolation)", runtime.GOOS)
	no := Feature{Detail: why}
	return Features{
		OS: runtime.GOOS, Root: os.Geteuid() == 0,
		UserNS: no, Seccomp: no, Landlock: no, LandlockTCP: no, CgroupV2: no, PidMaxNS: no,
		Native: no, Bubblewrap: no, GVisor: no,
	}
}

func (s *Sandboxer) build(_ context.Context, sb *Sandboxed, spec Spec) error {
	if sb.Backend != BackendNone {
		return fmt.Errorf("%w: the %s backend needs Linux", ErrUnavailable, sb.Backend)
	}
	exe, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, spec.Args...)
	cmd.Env = serverEnv(spec, sb.Profile, "")
	cmd.Dir = spec.Dir
	sb.Cmd = cmd
	return nil
}

// RunInit is only meaningful on Linux.
func RunInit() int {
	fmt.Fprintln(os.Stderr, "mcpwarden sandbox:", errors.New("the sandbox init runs on Linux only"))
	return 125
}
