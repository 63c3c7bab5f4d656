//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/config"
	"mcpwarden/internal/upstream"
)

// backendState is where a backend is in its connect/restart cycle.
type backendState uint8

const (
	stateStarting backendState = iota
	stateUp
	stateBackoff
	stateStopped
)

// backend is one upstream server: its client, its current connection, its
// restart loop, and the catalog it last listed.
type backend struct {
	g      *Gateway
	name   string
	cfg    *config.Server
	spec   upstream.Spec
	log    *slog.Logger
	client *mcp.Client

	firstAttempt chan struct{}
	firstOnce    sync.Once

	mu        sync.Mutex
	state     backendState
	conn      *upstream.Conn
	changed   chan struct{} // closed and replaced on every state change
	lastErr   error
	retryAt   time.Time
	restarts  int
	upSince   time.Time
	transport string
	causes    map[uint64]string // calls in flight, for egress attribution

	// rootsToggle alternates a sentinel root in the client's own roots
	// list; see rootsChanged.
	rootsMu     sync.Mutex
	rootsToggle bool

	// refreshMu serializes catalog refreshes so list_changed storms do not
	// interleave.
	refreshMu sync.Mutex
	cat       catalog
	// toolCount mirrors len(cat.tools) for status reports, which must not
	// wait behind a refresh stuck on a slow server.
	toolCount atomic.Int64
}

func newBackend(g *Gateway, sc *config.Server) *backend {
	b := &backend{
		g:            g,
		name:         sc.Name,
		cfg:          sc,
		log:          g.log.With("server", sc.Name),
		firstAttempt: make(chan struct{}),
		changed:      make(chan struct{}),
		spec: upstream.Spec{
			Name:            sc.Name,
			Transport:       sc.Transport,
			Command:         sc.Command,
			Args:            sc.Args,
			Env:             sc.Env,
			Cwd:             sc.Cwd,
			URL:             sc.URL,
			Headers:         sc.Headers,
			ProtocolVersion: sc.ProtocolVersion,
			Sandbox:         sc.Sandbox,
			Secrets:         sc.Secrets,
		},
	}
	b.client = g.newClient(b)
	return b
}

func (b *backend) setState(s backendState, conn *upstream.Conn, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state, b.conn, b.lastErr = s, conn, err
	if s == stateUp {
		b.upSince = time.Now()
		b.transport = conn.Transport
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// run connects, watches the connection, and restarts the server with
// exponential backoff whenever it exits, until ctx is done.
func (b *backend) run(ctx context.Context) {
	minB, maxB := b.g.opts.MinBackoff, b.g.opts.MaxBackoff
	if minB <= 0 {
		minB = 250 * time.Millisecond
	}
	if maxB <= 0 {
		maxB = 30 * time.Second
	}
	delay := minB
	for {
		b.setState(stateStarting, nil, nil)
		conn, err := b.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				b.setState(stateStopped, nil, errors.New("gateway stopping"))
				b.firstOnce.Do(func() { close(b.firstAttempt) })
				return
			}
			b.mu.Lock()
			b.retryAt = time.Now().Add(delay)
			b.mu.Unlock()
			b.setState(stateBackoff, nil, err)
			b.firstOnce.Do(func() { close(b.firstAttempt) })
			b.log.Error("server failed to start", "err", err, "retry_in", delay)
			if !sleep(ctx, delay) {
				b.setState(stateStopped, nil, errors.New("gateway stopping"))
				return
			}
			delay = min(delay*2, maxB)
			continue
		}
		info := conn.Session.InitializeResult()
		b.log.Info("server connected", "transport", conn.Transport, "protocol", info.ProtocolVersion, "server_name", implName(info.ServerInfo), "server_version", implVersion(info.ServerInfo))
		b.setState(stateUp, conn, nil)
		if err := b.refresh(ctx, conn.Session, kindAll); err != nil {
			b.log.Warn("listing the server's features failed", "err", err)
		}
		b.firstOnce.Do(func() { close(b.firstAttempt) })

		waitErr := conn.Wait()
		if ctx.Err() != nil {
			_ = conn.Close()
			b.setState(stateStopped, nil, errors.New("gateway stopping"))
			return
		}
		up := time.Since(b.upSince)
		reason := exitReason(waitErr, conn.StderrTail())
		_ = conn.Close()
		b.mu.Lock()
		b.restarts++
		if up > time.Minute {
			delay = minB // it ran for a while: this is a fresh failure, not a crash loop
		}
		b.retryAt = time.Now().Add(delay)
		b.mu.Unlock()
		b.setState(stateBackoff, nil, reason)
		b.log.Warn("server exited; restarting", "reason", reason, "uptime", up.Round(time.Millisecond), "restart_in", delay)
		if !sleep(ctx, delay) {
			b.setState(stateStopped, nil, errors.New("gateway stopping"))
			return
		}
		delay = min(delay*2, maxB)
	}
}

func exitReason(waitErr error, stderr string) error {
	msg := "the server closed the connection"
	if waitErr != nil && !errors.Is(waitErr, mcp.ErrConnectionClosed) {
		msg = fmt.Sprintf("the server exited (%v)", waitErr)
	}
	if stderr != "" {
		msg += "; last stderr: " + stderr
	}
	return errors.New(msg)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *backend) dial(ctx context.Context) (*upstream.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.StartTimeout.D())
	defer cancel()
	return upstream.Dial(ctx, b.client, &b.spec, upstream.Options{
		Logger:          b.g.log,
		Launcher:        b.g.opts.Launcher,
		Lookup:          b.g.opts.Lookup,
		HTTPClient:      b.g.opts.HTTPClient,
		MaxMessageBytes: int(b.g.cfg.Gateway.MaxMessageBytes),
	})
}

// session returns the live client session, waiting while the server is
// starting. A server in backoff after a failure fails fast with the
// reason, so agents are not held for the length of a crash loop.
func (b *backend) session(ctx context.Context) (*mcp.ClientSession, error) {
	for {
		b.mu.Lock()
		state, conn, lastErr, retryAt, changed := b.state, b.conn, b.lastErr, b.retryAt, b.changed
		b.mu.Unlock()
		switch state {
		case stateUp:
			return conn.Session, nil
		case stateStopped:
			return nil, &upstreamError{server: b.name, msg: "the gateway is shutting down"}
		case stateBackoff:
			return nil, &upstreamError{server: b.name, msg: fmt.Sprintf("is not available: %v; next restart attempt in %s", lastErr, time.Until(retryAt).Round(time.Millisecond))}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, &upstreamError{server: b.name, msg: "did not finish starting in time", cause: ctx.Err()}
		}
	}
}

// beginCause records that a call is in flight on the server, so that the
// network connections the server makes meanwhile (seen by the sandbox's
// egress proxy) name it. With several calls in flight, all are named.
// The returned func ends it.
func (b *backend) beginCause(id uint64, cause func() string) func() {
	b.mu.Lock()
	conn := b.conn
	if conn == nil || conn.SetCause == nil {
		b.mu.Unlock()
		return func() {}
	}
	if b.causes == nil {
		b.causes = make(map[uint64]string)
	}
	b.causes[id] = cause()
	label := joinCauses(b.causes)
	b.mu.Unlock()
	conn.SetCause(label)
	return func() {
		b.mu.Lock()
		delete(b.causes, id)
		label := joinCauses(b.causes)
		b.mu.Unlock()
		conn.SetCause(label)
	}
}

func joinCauses(m map[uint64]string) string {
	if len(m) <= 1 {
		for _, c := range m {
			return c
		}
		return ""
	}
	ids := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = m[id]
	}
	return strings.Join(parts, "; ")
}

// current returns the live connection, or nil while the server is down.
func (b *backend) current() *upstream.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

// protocol is the revision negotiated with the server, "" while down.
func (b *backend) protocol() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return ""
	}
	return b.conn.Session.InitializeResult().ProtocolVersion
}

// settleProgress waits until the progress notifications the server sent
// before its last response have been relayed.
func (b *backend) settleProgress(ctx context.Context) {
	b.mu.Lock()
	conn := b.conn
	b.mu.Unlock()
	if conn != nil {
		conn.Progress.Settle(ctx, 250*time.Millisecond)
	}
}

// progressHandled marks one progress notification from the server as
// relayed (or dropped).
func (b *backend) progressHandled() {
	b.mu.Lock()
	conn := b.conn
	b.mu.Unlock()
	if conn != nil {
		conn.Progress.Handled()
	}
}

// rootsChanged tells the server that the client's roots changed, so that
// it asks again. The go-sdk client sends notifications/roots/list_changed
// only when its own roots set changes, so a sentinel root is added and
// removed in turn; it never reaches the server, because the gateway
// answers roots/list from the downstream client.
func (b *backend) rootsChanged() {
	b.rootsMu.Lock()
	defer b.rootsMu.Unlock()
	const sentinel = "mcpwarden:roots-changed"
	if b.rootsToggle {
		b.client.RemoveRoots(sentinel)
	} else {
		b.client.AddRoots(&mcp.Root{URI: sentinel})
	}
	b.rootsToggle = !b.rootsToggle
}

func (b *backend) status() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == stateUp {
		return nil
	}
	if b.lastErr != nil {
		return b.lastErr
	}
	return errors.New("starting")
}

func (b *backend) snapshot() Status {
	b.mu.Lock()
	s := Status{Name: b.name, Up: b.state == stateUp, Restarts: b.restarts, Transport: b.transport}
	if b.conn != nil {
		s.Protocol = b.conn.Session.InitializeResult().ProtocolVersion
	}
	if b.lastErr != nil && b.state != stateUp {
		s.Error = b.lastErr.Error()
	}
	b.mu.Unlock()
	s.Tools = int(b.toolCount.Load())
	return s
}

func (b *backend) close() {
	b.mu.Lock()
	conn := b.conn
	b.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

// instructions returns what the server said in its handshake.
func (b *backend) instructions() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return ""
	}
	return b.conn.Session.InitializeResult().Instructions
}

func implName(i *mcp.Implementation) string {
	if i == nil {
		return ""
	}
	return i.Name
}

func implVersion(i *mcp.Implementation) string {
	if i == nil {
		return ""
	}
	return i.Version
}

// upstreamError is a failure to reach or hear from an upstream server. Its
// text always names the server, because an agent juggling many servers
// behind one endpoint needs to know which one failed.
type upstreamError struct {
	server string
	msg    string
	cause  error
}

func (e *upstreamError) Error() string {
	s := fmt.Sprintf("upstream server %q %s", e.server, e.msg)
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *upstreamError) Unwrap() error { return e.cause }
