// Package cli builds the mcpwarden command tree with cobra and maps errors
// to process exit codes. Commands are thin: they parse flags, build the
// capability packages under internal/ and run them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command. Scan documents its own meaning for 1
// and 3; other commands use 1 for "the operation failed".
const (
	ExitOK          = 0
	ExitFailure     = 1 // findings at or above --fail-on, or a failed operation
	ExitUsage       = 2 // bad flags, arguments or config
	ExitUnscannable = 3 // some scan targets could not be scanned
)

// IO is the process's standard streams, injected so tests can drive commands
// in-process.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries an explicit exit code out of a command. A command that
// has already printed its own message sets Silent.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks an error as the caller's fault (exit code 2).
func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var xe *ExitError
	if errors.As(err, &xe) {
		if !xe.Silent && xe.Err != nil {
			fmt.Fprintf(stdio.Err, "mcpwarden: %v\n", xe.Err)
		}
		return xe.Code
	}
	fmt.Fprintf(stdio.Err, "mcpwarden: %v\n", err)
	if isFlagError(err) {
		return ExitUsage
	}
	return ExitFailure
}

// flagError wraps cobra's flag parsing failures so Run can tell them apart.
type flagError struct{ error }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "mcpwarden",
		Short:         "Scan and guard Model Context Protocol servers",
		Long:          "mcpwarden reviews MCP servers for the seven classic MCP vulnerabilities and\nenforces a security policy on every call as a gateway in front of them.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("unknown command %q; run 'mcpwarden --help' for the list", args[0])
		}
		return nil
	}
	// A runnable root lets cobra report unknown commands through Args
	// instead of silently printing help with exit status 0.
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	root.AddCommand(
		newVersionCmd(stdio),
		newGatewayCmd(stdio),
		newWrapCmd(stdio),
		newConfigCmd(stdio),
		newDemoServerCmd(stdio),
		newRunCmd(stdio), newSandboxCmd(stdio), newSandboxInitCmd(),
		newAuditCmd(stdio),
		newInspectCmd(stdio),
		newScanCmd(stdio), newPinCmd(stdio), newDemoCmd(stdio),
		newPolicyCmd(stdio),
	)
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every positional-argument validation failure in the
// tree a usage error (exit code 2), so that each command need not remember
// to.
func markUsageErrors(c *cobra.Command) {
	if validate := c.Args; validate != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := validate(cmd, args); err != nil {
				var xe *ExitError
				if errors.As(err, &xe) {
					return err
				}
				return usageError("%s: %v", cmd.CommandPath(), err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
}
