package upstream

import (
	"context"
	"fmt"
	"os/exec"

	"mcpwarden/internal/sandbox"
)

// Sandboxed launches stdio servers inside a sandbox with each server's
// profile (or the strict default for its command). It implements
// [Launcher]; when the isolation cannot be set up, the server does not
// start and the error says what is missing.
type Sandboxed struct {
	Sandboxer *sandbox.Sandboxer
}

// Command implements [Launcher].
func (s Sandboxed) Command(ctx context.Context, spec *Spec, env []string) (*exec.Cmd, func(), error) {
	l, err := s.Launch(ctx, spec, env)
	if err != nil {
		return nil, nil, err
	}
	return l.Cmd, l.Cleanup, nil
}

// Launch implements [CausingLauncher].
func (s Sandboxed) Launch(ctx context.Context, spec *Spec, env []string) (*Launched, error) {
	sb, err := s.Sandboxer.Command(ctx, spec.Sandbox, sandbox.Spec{
		Name: spec.Name,
		Path: spec.Command,
		Args: spec.Args,
		Env:  env,
		Dir:  spec.Cwd,
	})
	if err != nil {
		return nil, fmt.Errorf("sandboxing %s: %w", spec.Name, err)
	}
	return &Launched{Cmd: sb.Cmd, Cleanup: func() { _ = sb.Close() }, SetCause: sb.SetCause}, nil
}

var (
	_ Launcher        = Sandboxed{}
	_ CausingLauncher = Sandboxed{}
)
