// Package upstream connects to MCP servers as a client: it launches stdio
// servers with a scrubbed environment, or reaches HTTP servers over
// Streamable HTTP (either protocol revision) and legacy HTTP+SSE, and
// returns a go-sdk client session. Both the scanner and the gateway use it,
// so a server is started the same way whether it is reviewed or fronted.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/procenv"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/secretref"
)

// Spec says how to reach one server.
type Spec struct {
	Name      string
	Transport string // "stdio", "streamable", "sse"; "" picks from Command or URL

	Command string
	Args    []string
	Env     map[string]string // declared variables; values may use ${env:NAME}
	Cwd     string

	URL     string
	Headers map[string]string // values may use ${env:NAME}

	// ProtocolVersion is offered to the server; "" offers the newest and
	// lets the server negotiate down (server/discover, then initialize).
	ProtocolVersion string

	// Sandbox is the isolation profile for a [Sandboxed] launcher; nil
	// means the default for the command.
	Sandbox *sandbox.Profile
	// Secrets are resolved when the server starts: stdio servers get each
	// as an environment variable, HTTP header values may use
	// ${secret:NAME}.
	Secrets map[string]secretref.Ref
}

// Transports.
const (
	Stdio      = "stdio"
	Streamable = "streamable"
	SSE        = "sse"
)

// EffectiveTransport returns the transport Dial will use.
func (s *Spec) EffectiveTransport() string {
	switch {
	case s.Transport != "":
		return s.Transport
	case s.URL != "":
		return Streamable
	default:
		return Stdio
	}
}

// Launcher builds the process for a stdio server. The sandbox implements
// it; [Exec] is the unsandboxed default. The returned cleanup runs after
// the process has exited.
type Launcher interface {
	Command(ctx context.Context, spec *Spec, env []string) (cmd *exec.Cmd, cleanup func(), err error)
}

// Launched is a stdio server process prepared by a [CausingLauncher].
type Launched struct {
	Cmd     *exec.Cmd
	Cleanup func()
	// SetCause labels the server's network connections from now on (the
	// sandbox's egress events name the call that caused them).
	SetCause func(cause string)
}

// CausingLauncher is a [Launcher] whose servers' network connections can
// be attributed to calls. Dial uses it when the launcher implements it.
type CausingLauncher interface {
	Launch(ctx context.Context, spec *Spec, env []string) (*Launched, error)
}

// Options configures [Dial]. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Launcher starts stdio servers; nil means [Exec].
	Launcher Launcher
	// Lookup reads the gateway's environment for the base variables and
	// ${env:NAME} references; nil means the process environment.
	Lookup procenv.Lookup
	// HTTPClient is used for HTTP servers; nil means a client with sane
	// timeouts.
	HTTPClient *http.Client
	// TerminateAfter is how long closing a stdio server waits before
	// SIGTERM and then SIGKILL.
	TerminateAfter time.Duration
	// MaxMessageBytes bounds one message from a stdio server; zero means
	// the go-sdk default.
	MaxMessageBytes int
}

// Conn is a live connection to one server.
type Conn struct {
	Session *mcp.ClientSession
	// Transport is the transport actually used ("stdio", "streamable" or
	// "sse"), after any fallback.
	Transport string
	// Progress orders progress notifications before results; see
	// [ProgressCounter].
	Progress *ProgressCounter
	// SetCause labels the server's network connections with the call in
	// flight; nil unless a [CausingLauncher] started the server.
	SetCause func(cause string)
	// Raw forwards requests as bytes beside the session (stdio servers
	// only; nil otherwise).
	Raw     *RawPath
	stderr  *stderrLog
	cleanup func()
}

// Close ends the session; for stdio servers it closes stdin, waits, and
// then signals the process.
func (c *Conn) Close() error {
	err := c.Session.Close()
	if c.cleanup != nil {
		c.cleanup()
	}
	return err
}

// Wait blocks until the session ends, by either side.
func (c *Conn) Wait() error { return c.Session.Wait() }

// StderrTail returns the last lines the server wrote to stderr, for error
// messages about why it died.
func (c *Conn) StderrTail() string {
	if c.stderr == nil {
		return ""
	}
	return c.stderr.tail()
}

// Dial connects client to the server described by spec and completes the
// MCP handshake (server/discover or initialize).
func Dial(ctx context.Context, client *mcp.Client, spec *Spec, opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("server", spec.Name)
	sopts := &mcp.ClientSessionOptions{ProtocolVersion: spec.ProtocolVersion}

	progress := newProgressCounter()
	switch t := spec.EffectiveTransport(); t {
	case Stdio:
		return dialStdio(ctx, client, spec, opts, log, sopts, progress)
	case Streamable, SSE:
		secrets, err := resolveSecrets(ctx, spec, opts)
		if err != nil {
			return nil, err
		}
		hc, err := httpClient(spec, opts, progress, secrets)
		if err != nil {
			return nil, err
		}
		if t == SSE {
			return dialSSE(ctx, client, spec, hc, sopts, progress)
		}
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: spec.URL, HTTPClient: hc, MaxRetries: 2}, sopts)
		if err == nil {
			return &Conn{Session: cs, Transport: Streamable, Progress: progress}, nil
		}
		// The 2025-11-25 spec's backwards-compatibility rule: a POST that
		// fails with a 4xx means an old HTTP+SSE server; try GET for its
		// endpoint event. Only do so when the transport was not pinned.
		if spec.Transport == "" && looksLikeOldServer(err) {
			conn, sseErr := dialSSE(ctx, client, spec, hc, sopts, progress)
			if sseErr == nil {
				log.Info("server speaks legacy HTTP+SSE; using it")
				return conn, nil
			}
			return nil, fmt.Errorf("connecting to %s: streamable HTTP failed (%v) and %w", spec.URL, err, sseErr)
		}
		return nil, fmt.Errorf("connecting to %s: %w", spec.URL, err)
	default:
		return nil, fmt.Errorf("unknown transport %q", t)
	}
}

// dialSSE connects over legacy HTTP+SSE. The go-sdk opens the event
// stream with the context given to Connect, so that context must live as
// long as the connection, not just the handshake: it is cancelled when the
// handshake fails or times out, or when the connection is closed.
func dialSSE(ctx context.Context, client *mcp.Client, spec *Spec, hc *http.Client, sopts *mcp.ClientSessionOptions, progress *ProgressCounter) (*Conn, error) {
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	cs, err := client.Connect(ctx, &ctxTransport{ctx: connCtx, t: &mcp.SSEClientTransport{Endpoint: spec.URL, HTTPClient: hc}}, sopts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("connecting to %s over legacy SSE: %w", spec.URL, err)
	}
	stop()
	return &Conn{Session: cs, Transport: SSE, Progress: progress, cleanup: cancel}, nil
}

// ctxTransport connects t with its own context instead of the caller's.
type ctxTransport struct {
	ctx context.Context
	t   mcp.Transport
}

func (c *ctxTransport) Connect(context.Context) (mcp.Connection, error) { return c.t.Connect(c.ctx) }

func looksLikeOldServer(err error) bool {
	msg := err.Error()
	for _, s := range []string{"400", "404", "405", "Method Not Allowed", "Not Found"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func dialStdio(ctx context.Context, client *mcp.Client, spec *Spec, opts Options, log *slog.Logger, sopts *mcp.ClientSessionOptions, progress *ProgressCounter) (*Conn, error) {
	if spec.Command == "" {
		return nil, errors.New("no command to run")
	}
	secrets, err := resolveSecrets(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	declared, err := expandAll(spec.Env, opts.Lookup, nil)
	if err != nil {
		return nil, fmt.Errorf("environment of %s: %w", spec.Name, err)
	}
	for k, v := range secrets.Env() {
		if declared == nil {
			declared = make(map[string]string)
		}
		declared[k] = v
	}
	env := procenv.Build(opts.Lookup, declared)
	launcher := opts.Launcher
	if launcher == nil {
		launcher = Exec{}
	}
	l, err := launch(ctx, launcher, spec, env)
	if err != nil {
		return nil, fmt.Errorf("preparing %s: %w", spec.Command, err)
	}
	cmd, cleanup := l.Cmd, l.Cleanup
	stderr := newStderrLog(log)
	cmd.Stderr = stderr
	log.Debug("starting server", "command", cmd.Path, "args", cmd.Args[1:], "env_keys", procenv.Keys(cmd.Env), "dir", cmd.Dir)

	td := opts.TerminateAfter
	if td == 0 {
		td = 2 * time.Second
	}
	ct := &commandTransport{cmd: cmd, terminate: td, progress: progress, maxLine: opts.MaxMessageBytes}
	cs, err := client.Connect(ctx, ct, sopts)
	if err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if cleanup != nil {
			cleanup()
		}
		if tail := stderr.tail(); tail != "" {
			return nil, fmt.Errorf("starting %s: %w (stderr: %s)", spec.Command, err, tail)
		}
		return nil, fmt.Errorf("starting %s: %w", spec.Command, err)
	}
	return &Conn{Session: cs, Transport: Stdio, Progress: progress, SetCause: l.SetCause, Raw: ct.raw, stderr: stderr, cleanup: cleanup}, nil
}

func launch(ctx context.Context, launcher Launcher, spec *Spec, env []string) (*Launched, error) {
	if cl, ok := launcher.(CausingLauncher); ok {
		l, err := cl.Launch(ctx, spec, env)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	cmd, cleanup, err := launcher.Command(ctx, spec, env)
	if err != nil {
		return nil, err
	}
	return &Launched{Cmd: cmd, Cleanup: cleanup}, nil
}

// Exec launches stdio servers as plain child processes with the given
// (already scrubbed) environment.
type Exec struct{}

// Command implements [Launcher].
func (Exec) Command(_ context.Context, spec *Spec, env []string) (*exec.Cmd, func(), error) {
	path, err := lookPath(spec.Command, env)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(path, spec.Args...)
	cmd.Env = env
	cmd.Dir = spec.Cwd
	setProcAttr(cmd)
	return cmd, nil, nil
}

// lookPath resolves a command on the PATH the server will get, not the
// gateway's own, so what runs is what the config's environment names.
func lookPath(command string, env []string) (string, error) {
	if strings.ContainsRune(command, '/') {
		return command, nil
	}
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range strings.Split(p, ":") {
				if dir == "" {
					continue
				}
				cand := dir + "/" + command
				if isExecutable(cand) {
					return cand, nil
				}
			}
			return "", fmt.Errorf("%q not found on PATH %s", command, p)
		}
	}
	return exec.LookPath(command)
}

func httpClient(spec *Spec, opts Options, progress *ProgressCounter, secrets secretref.Secrets) (*http.Client, error) {
	headers, err := expandAll(spec.Headers, opts.Lookup, secrets)
	if err != nil {
		return nil, fmt.Errorf("headers of %s: %w", spec.Name, err)
	}
	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	rt := base.Transport
	if rt == nil {
		rt = pooledTransport()
	}
	if len(headers) > 0 {
		rt = headerTransport{base: rt, headers: headers}
	}
	c := *base
	c.Transport = countingTransport{base: rt, p: progress}
	return &c, nil
}

// maxIdlePerServer is how many idle connections to one HTTP server are
// kept for reuse. The standard library keeps 2, so a gateway with more
// calls than that in flight to one server opened and closed a TCP
// connection per call (and piled up TIME_WAIT sockets).
const maxIdlePerServer = 64

// pooledTransport is http.DefaultTransport with enough idle connections
// per server for a gateway's concurrency.
func pooledTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdlePerServer
	t.MaxIdleConns = 4 * maxIdlePerServer
	return t
}

// headerTransport adds the configured headers (upstream credentials) to
// every request. They are the server's own credentials, never the
// downstream caller's.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	return t.base.RoundTrip(req)
}

// expandAll resolves ${env:NAME} references, and ${secret:NAME} ones when
// secrets are given (header values of HTTP servers).
func expandAll(m map[string]string, lookup procenv.Lookup, secrets secretref.Secrets) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		v, err := expandSecrets(v, secrets)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		x, err := procenv.Expand(v, lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = x
	}
	return out, nil
}

func expandSecrets(v string, secrets secretref.Secrets) (string, error) {
	for {
		i := strings.Index(v, "${secret:")
		if i < 0 {
			return v, nil
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${secret:...} reference")
		}
		name := v[i+len("${secret:") : i+j]
		s, ok := secrets[name]
		if !ok {
			return "", fmt.Errorf("${secret:%s} names no secret declared for this server", name)
		}
		v = v[:i] + s.Reveal() + v[i+j+1:]
	}
}

func resolveSecrets(ctx context.Context, spec *Spec, opts Options) (secretref.Secrets, error) {
	if len(spec.Secrets) == 0 {
		return nil, nil
	}
	s, err := secretref.ResolveAll(ctx, spec.Secrets, secretref.Options{Lookup: opts.Lookup})
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", spec.Name, err)
	}
	return s, nil
}
