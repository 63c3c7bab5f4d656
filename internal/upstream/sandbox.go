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
	sb, err := s.Sandboxer.Command(ctx, spec.Sandbox, sandbox.Spec{
		Name: spec.Name,
		Path: spec.Command,
		Args: spec.Args,
		Env:  env,
		Dir:  spec.Cwd,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sandboxing %s: %w", spec.Name, err)
	}
	return sb.Cmd, func() { _ = sb.Close() }, nil
}

var _ Launcher = Sandboxed{}
