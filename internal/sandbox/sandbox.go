package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"mcpwarden/internal/egress"
)

// InitCommand is the hidden mcpwarden subcommand that runs the sandbox
// init ([RunInit]). The default [Options.InitArgs] invoke it.
const InitCommand = "__sandbox-init"

// Spec is the command to run in a sandbox.
type Spec struct {
	// Name is the server's name, for logs, egress events and its cache
	// directory.
	Name string
	// Path is the program. A name without a slash is looked up in the
	// PATH of Env (not of the gateway).
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is the server's environment, normally the scrubbed base from
	// procenv.Build plus the server's declared variables and secrets.
	// The profile's Env is added on top; HOME, TMPDIR and the proxy
	// variables are set by the sandbox.
	Env []string
	// Dir is the working directory; it must be inside a path the
	// profile makes visible. Empty means the private home.
	Dir string
}

// Options configure a [Sandboxer]. The zero value is usable.
type Options struct {
	Logger *slog.Logger // nil discards
	// InitPath is the executable re-run as the sandbox init; empty
	// means this process's executable (os.Executable). Tests point it
	// at the test binary, whose TestMain calls [RunInit].
	InitPath string
	// InitArgs are the arguments of the init (argv[1:]); nil means
	// {InitCommand}.
	InitArgs []string
	// OnEgress receives the audit record of every connection a server
	// makes through its egress proxy. Called concurrently.
	OnEgress func(egress.Event)
	// Resolver resolves hostnames for the egress proxies; nil means the
	// system resolver.
	Resolver egress.Resolver
	// Dialer dials checked egress destinations; nil means net.Dialer.
	Dialer egress.Dialer
	// StateDir is where per-server temporary directories are made;
	// empty means os.TempDir().
	StateDir string
	// CacheDir is the root of the per-server caches of [Profile.Caches];
	// empty means $XDG_CACHE_HOME/mcpwarden/servers.
	CacheDir string
	// Probe overrides feature detection, for tests; nil probes the
	// kernel once per Sandboxer.
	Probe func(context.Context) Features
}

// Sandboxer builds sandboxed commands. It probes the kernel's features
// once, on first use. Its methods are safe for concurrent use.
type Sandboxer struct {
	opts Options
	log  *slog.Logger

	probeOnce sync.Once
	features  Features
}

// New returns a Sandboxer.
func New(opts Options) *Sandboxer {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sandboxer{opts: opts, log: log.With("component", "sandbox")}
}

// Features returns the probed kernel and backend features.
func (s *Sandboxer) Features(ctx context.Context) Features {
	s.probeOnce.Do(func() {
		if s.opts.Probe != nil {
			s.features = s.opts.Probe(ctx)
		} else {
			s.features = probe(ctx, s.initPath, s.initArgs())
		}
	})
	return s.features
}

func (s *Sandboxer) initPath() (string, error) {
	if s.opts.InitPath != "" {
		return s.opts.InitPath, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the mcpwarden executable to run as sandbox init: %w", err)
	}
	return exe, nil
}

func (s *Sandboxer) initArgs() []string {
	if s.opts.InitArgs != nil {
		return s.opts.InitArgs
	}
	return []string{InitCommand}
}

// Sandboxed is a command prepared to run in a sandbox. The caller starts
// Cmd (mcp.CommandTransport does) and calls Close after the process has
// exited.
type Sandboxed struct {
	// Cmd is ready to Start. Its Stdin, Stdout and Stderr are unset, so
	// the caller may attach pipes; they reach the server unchanged.
	Cmd *exec.Cmd
	// Backend is the backend that was selected.
	Backend Backend
	// Profile is the effective profile, with defaults applied.
	Profile Profile
	// Warnings are things the operator should know (isolation that is
	// not enforced on this machine); they were also logged.
	Warnings []string

	proxy   *egress.Proxy
	cleanup []func() error
	once    sync.Once
	err     error
}

// SetCause labels the egress events of connections made from now on,
// typically with the tool call in flight. It does nothing without egress.
func (sb *Sandboxed) SetCause(cause string) {
	if sb.proxy != nil {
		sb.proxy.SetCause(cause)
	}
}

// Close stops the server's egress proxy, kills the sandbox if it is
// still running and removes its temporary files. It is idempotent.
func (sb *Sandboxed) Close() error {
	sb.once.Do(func() {
		if sb.Cmd != nil && sb.Cmd.Process != nil && sb.Cmd.ProcessState == nil {
			p := sb.Cmd.Process
			// Killing the init kills every process in the sandbox.
			p.Kill()
		}
		var errs []error
		for i := len(sb.cleanup) - 1; i >= 0; i-- {
			errs = append(errs, sb.cleanup[i]())
		}
		sb.err = errors.Join(errs...)
	})
	return sb.err
}

func (sb *Sandboxed) onClose(f func() error) { sb.cleanup = append(sb.cleanup, f) }

// ErrUnavailable is wrapped by errors for isolation that cannot be set up
// on this machine. The message names what is missing and what would work.
var ErrUnavailable = errors.New("sandbox unavailable")

// Command prepares spec to run under profile p. A nil p means the
// default for the command ([DefaultFor]). The context bounds only the
// preparation (probing, creating directories); the process's lifetime is
// the caller's, through Cmd.
//
// If the requested isolation cannot be set up, Command returns an error
// wrapping [ErrUnavailable] that says what is missing and which backend or
// setting would work; it never falls back to running unsandboxed.
func (s *Sandboxer) Command(ctx context.Context, p *Profile, spec Spec) (*Sandboxed, error) {
	var prof Profile
	if p == nil {
		prof = DefaultFor(spec.Path)
	} else {
		prof = *p
	}
	prof = prof.WithDefaults()
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("sandbox profile of %s: %w", spec.Name, err)
	}
	if spec.Path == "" {
		return nil, errors.New("sandbox: empty command")
	}
	backend, warnings, err := chooseBackend(s.Features(ctx), prof)
	if err != nil {
		return nil, fmt.Errorf("sandboxing %s: %w", spec.Name, err)
	}
	prof.Backend = backend
	for _, w := range warnings {
		s.log.Warn(w, "server", spec.Name)
	}
	sb := &Sandboxed{Backend: backend, Profile: prof, Warnings: warnings}
	if err := s.build(ctx, sb, spec); err != nil {
		sb.Close()
		return nil, fmt.Errorf("sandboxing %s with the %s backend: %w", spec.Name, backend, err)
	}
	return sb, nil
}

// chooseBackend picks the backend for a profile and the warnings to give.
func chooseBackend(f Features, p Profile) (Backend, []string, error) {
	var warnings []string
	if p.Network == NetworkHost {
		warnings = append(warnings, "network: host gives the server the host's full network, including loopback services and the cloud metadata endpoint; prefer network: egress with an allowlist")
	}
	if p.Backend == BackendNone {
		return BackendNone, append(warnings, "backend: none runs the server WITHOUT ANY ISOLATION: it can read, write and connect to everything the gateway can"), nil
	}
	if p.Backend != BackendAuto {
		if reason := f.unusable(p.Backend, p); reason != "" {
			return "", nil, fmt.Errorf("%w: the %s backend cannot be used: %s; %s", ErrUnavailable, p.Backend, reason, f.suggest(p, p.Backend))
		}
		return p.Backend, append(warnings, f.weaknesses(p.Backend, p)...), nil
	}
	var reasons []string
	for _, b := range []Backend{BackendNative, BackendBubblewrap, BackendGVisor} {
		reason := f.unusable(b, p)
		if reason == "" {
			return b, append(warnings, f.weaknesses(b, p)...), nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %s", b, reason))
	}
	return "", nil, fmt.Errorf("%w: no sandbox backend works on this machine (%s); fix one of these, or set backend: none to run the server unsandboxed (not recommended)", ErrUnavailable, strings.Join(reasons, "; "))
}

// lookPath finds a program the way a shell would with the PATH of env.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		if err := isExecutable(abs); err != nil {
			return "", fmt.Errorf("command %s: %w", abs, err)
		}
		return abs, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on the gateway's cwd
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the server's PATH (%s)", name, path)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// serverEnv builds the server's environment: the spec's, the profile's on
// top, then the variables the sandbox owns.
func serverEnv(spec Spec, p Profile, proxyURL string) []string {
	env := map[string]string{}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range p.Env {
		env[k] = v
	}
	if p.Backend != BackendNone {
		env["HOME"] = SandboxHome
		env["TMPDIR"] = SandboxTmp
	}
	proxyKeys := []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"}
	switch {
	case p.Network == NetworkEgress && proxyURL != "":
		for _, k := range proxyKeys {
			env[k] = proxyURL
		}
		env["NO_PROXY"], env["no_proxy"] = "", ""
		// Node ignores the proxy variables unless told to (Node 24+).
		env["NODE_USE_ENV_PROXY"] = "1"
	case p.Network == NetworkNone:
		for _, k := range proxyKeys {
			delete(env, k)
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
