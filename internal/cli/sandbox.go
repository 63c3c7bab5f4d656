package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"mcpwarden/internal/procenv"
	"mcpwarden/internal/sandbox"
)

// loadProfile reads --profile: a built-in name or a profile file. Without
// one, the default for the command applies.
func loadProfile(spec, command string) (sandbox.Profile, string, error) {
	if spec == "" {
		if command == "" {
			return sandbox.DefaultProfile(), "strict default", nil
		}
		return sandbox.DefaultFor(command), "default for " + command, nil
	}
	if p, ok := sandbox.Builtin(spec); ok && !strings.ContainsRune(spec, os.PathSeparator) {
		return p, "built-in profile " + spec, nil
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return sandbox.Profile{}, "", usageError("--profile %s: no such file, and not a built-in profile (%s)", spec, strings.Join(sandbox.BuiltinNames(), ", "))
		}
		return sandbox.Profile{}, "", usageError("--profile: %v", err)
	}
	p, err := sandbox.ParseProfile(data)
	if err != nil {
		return sandbox.Profile{}, "", usageError("%s: %v", spec, err)
	}
	return p, spec, nil
}

type profileFlags struct {
	profile, backend, network string
	ro, rw, allow             []string
}

func (f *profileFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.profile, "profile", "", "profile file, or built-in profile name (strict, npx, uvx, node, python)")
	fl.StringVar(&f.backend, "backend", "", "override the backend: auto, native, bubblewrap, gvisor or none")
	fl.StringVar(&f.network, "network", "", "override the network: none, egress or host")
	fl.StringArrayVar(&f.ro, "ro", nil, "add a read-only path (repeatable)")
	fl.StringArrayVar(&f.rw, "rw", nil, "add a read-write path (repeatable)")
	fl.StringArrayVar(&f.allow, "allow", nil, "add an egress allowlist entry HOST[:PORTS] (repeatable; implies --network egress)")
}

// set reports whether any profile flag was given.
func (f *profileFlags) set() bool {
	return f.profile != "" || f.backend != "" || f.network != "" || len(f.ro)+len(f.rw)+len(f.allow) > 0
}

// apply loads the profile and applies the overriding flags.
func (f *profileFlags) apply(command string) (sandbox.Profile, string, error) {
	p, source, err := loadProfile(f.profile, command)
	if err != nil {
		return p, source, err
	}
	if f.backend != "" {
		p.Backend = sandbox.Backend(f.backend)
	}
	if f.network != "" {
		p.Network = sandbox.Network(f.network)
	} else if len(f.allow) > 0 {
		p.Network = sandbox.NetworkEgress
	}
	p.ReadOnly = append(p.ReadOnly, f.ro...)
	p.ReadWrite = append(p.ReadWrite, f.rw...)
	p.Egress.Allow = append(p.Egress.Allow, f.allow...)
	for _, check := range []struct {
		v     string
		valid []string
		flag  string
	}{
		{string(p.Backend), []string{"", "auto", "native", "bubblewrap", "gvisor", "none"}, "--backend"},
		{string(p.Network), []string{"", "none", "egress", "host"}, "--network"},
	} {
		if !contains(check.valid, check.v) {
			return p, source, usageError("%s %q: want one of %s", check.flag, check.v, strings.Join(check.valid[1:], ", "))
		}
	}
	if err := p.Validate(); err != nil {
		return p, source, usageError("%v", err)
	}
	return p, source, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func newRunCmd(stdio IO) *cobra.Command {
	var pf profileFlags
	var env []string
	var name string
	c := &cobra.Command{
		Use:   "run [flags] -- CMD [ARGS...]",
		Short: "Run a command in a sandbox, to try out a profile",
		Long: "run starts CMD under a sandbox profile exactly as the gateway starts a stdio MCP\n" +
			"server: scrubbed environment, private home and /tmp, only the profile's paths,\n" +
			"no network unless the profile allows it. Standard input and output pass through.\n" +
			"The exit status is the command's.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := pf.apply(args[0])
			if err != nil {
				return err
			}
			declared := map[string]string{}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageError("--env %q: want KEY=VALUE", kv)
				}
				declared[k] = v
			}
			log := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: slog.LevelInfo}))
			s := sandbox.New(sandbox.Options{Logger: log})
			sb, err := s.Command(cmd.Context(), &p, sandbox.Spec{
				Name: name, Path: args[0], Args: args[1:], Env: procenv.Build(nil, declared),
			})
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			defer sb.Close()
			sb.Cmd.Stdin, sb.Cmd.Stdout, sb.Cmd.Stderr = stdio.In, stdio.Out, stdio.Err
			if err := sb.Cmd.Start(); err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("starting the sandbox: %w", err)}
			}
			done := make(chan error, 1)
			go func() { done <- sb.Cmd.Wait() }()
			select {
			case err = <-done:
			case <-cmd.Context().Done():
				// The init forwards SIGTERM to the command.
				sb.Cmd.Process.Signal(syscall.SIGTERM)
				err = <-done
			}
			var xe *exec.ExitError
			if errors.As(err, &xe) {
				return &ExitError{Code: xe.ExitCode(), Silent: true}
			}
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			return nil
		},
	}
	pf.register(c)
	c.Flags().StringArrayVar(&env, "env", nil, "add an environment variable KEY=VALUE (repeatable)")
	c.Flags().StringVar(&name, "name", "run", "server name for logs and the cache directory")
	return c
}

func newSandboxCmd(stdio IO) *cobra.Command {
	c := &cobra.Command{
		Use:   "sandbox",
		Short: "Inspect the sandbox that stdio MCP servers run in",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var pf profileFlags
	var command string
	doctor := &cobra.Command{
		Use:   "doctor",
		Short: "Report which sandbox backends and kernel features this machine has",
		Long: "doctor probes user namespaces, seccomp, Landlock, cgroup v2 and each backend\n" +
			"(by building a trial sandbox), then shows the backend and the effective\n" +
			"profile a server would get, and everything that would not be enforced.\n" +
			"It exits 1 when that server could not start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, source, err := pf.apply(command)
			if err != nil {
				return err
			}
			f := sandbox.New(sandbox.Options{}).Features(cmd.Context())
			if err := sandbox.WriteDoctor(stdio.Out, f, p, source); err != nil {
				if errors.Is(err, sandbox.ErrUnavailable) {
					return &ExitError{Code: ExitFailure, Silent: true}
				}
				return err
			}
			return nil
		},
	}
	pf.register(doctor)
	doctor.Flags().StringVar(&command, "command", "", "show the default profile for this command (npx, uvx, node, python...)")
	c.AddCommand(doctor)
	return c
}

// newSandboxInitCmd is the sandbox init that the sandbox package re-runs
// this binary as. It takes its instructions from an inherited descriptor
// only.
func newSandboxInitCmd() *cobra.Command {
	return &cobra.Command{
		Use:                sandbox.InitCommand,
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(*cobra.Command, []string) error {
			if code := sandbox.RunInit(); code != 0 {
				return &ExitError{Code: code, Silent: true}
			}
			return nil
		},
	}
}
