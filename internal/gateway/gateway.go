package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/procenv"
	"mcpwarden/internal/upstream"
)

// Options configures a [Gateway]. Config is required; the rest may be
// zero.
type Options struct {
	Config *config.Config
	// Chain is the interceptor chain every message crosses; nil allows
	// everything.
	Chain *pipeline.Chain
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Launcher starts stdio servers (the sandbox); nil runs them as plain
	// child processes with a scrubbed environment.
	Launcher upstream.Launcher
	// Lookup reads mcpwarden's own environment; nil means os.LookupEnv.
	Lookup procenv.Lookup
	// HTTPClient reaches HTTP upstreams; nil means a default client.
	HTTPClient *http.Client
	// Version is reported as the gateway's serverInfo version.
	Version string
	// Identify returns the caller of a downstream request. nil means
	// every caller is anonymous.
	Identify func(ctx context.Context, extra *mcp.RequestExtra) pipeline.Identity
	// Backoff bounds restart delays; zero means 250ms doubling to 30s.
	MinBackoff, MaxBackoff time.Duration
	// MRTRTimeout bounds how long a call that asked the client for input
	// (multi round-trip) waits for the retry; zero means 5 minutes.
	MRTRTimeout time.Duration
	// PageSize is the number of items per page of list results; zero
	// means the go-sdk default (1000).
	PageSize int
	// Flat serves a single server's tools and prompts under their own
	// names, without the server prefix, so that `mcpwarden wrap` is a
	// drop-in replacement for the server it wraps.
	Flat bool
}

// Gateway fronts a set of upstream MCP servers with one MCP server. It is
// safe for concurrent use. Start it with [Gateway.Start] and stop it with
// [Gateway.Close].
type Gateway struct {
	opts   Options
	cfg    *config.Config
	log    *slog.Logger
	chain  *pipeline.Chain
	sep    string
	srv    *mcp.Server
	impl   *mcp.Implementation
	ident  func(context.Context, *mcp.RequestExtra) pipeline.Identity
	mrtrTO time.Duration

	backends []*backend
	byName   map[string]*backend

	flights        flightTable
	pending        pendingTable
	approvalsAsked approvals
	sessions       sessionTable
	subs           subscriptions

	// fastCalls counts tools/calls served on the stdio fast path.
	fastCalls atomic.Int64

	// inflight counts downstream requests being handled, for draining.
	inflight sync.WaitGroup
	draining atomic.Bool

	stop context.CancelFunc
	// closing ends when Close starts. Closing an upstream connection
	// waits for its request handlers, so the ones that wait on a client
	// (server-to-client requests) must give up first.
	closing    context.Context
	endClosing context.CancelFunc
	closed     sync.Once
}

// New builds a gateway for cfg. It validates the server set (names,
// collisions) but connects to nothing until [Gateway.Start].
func New(opts Options) (*Gateway, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("gateway: no configuration")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		opts:   opts,
		cfg:    cfg,
		log:    log.With("component", "gateway"),
		chain:  opts.Chain,
		sep:    cfg.Gateway.Separator,
		byName: make(map[string]*backend),
		ident:  opts.Identify,
		mrtrTO: opts.MRTRTimeout,
	}
	g.closing, g.endClosing = context.WithCancel(context.Background())
	if g.sep == "" {
		g.sep = config.DefaultSeparator
	}
	if g.mrtrTO == 0 {
		g.mrtrTO = 5 * time.Minute
	}
	if err := checkNames(cfg, g.sep); err != nil {
		return nil, err
	}
	if opts.Flat && len(enabled(cfg)) != 1 {
		return nil, fmt.Errorf("gateway: flat naming needs exactly one server, have %d", len(enabled(cfg)))
	}
	for i := range cfg.Servers {
		sc := &cfg.Servers[i]
		if sc.Disabled {
			continue
		}
		b := newBackend(g, sc)
		g.backends = append(g.backends, b)
		g.byName[sc.Name] = b
	}
	version := opts.Version
	if version == "" {
		version = "devel"
	}
	g.impl = &mcp.Implementation{Name: "mcpwarden", Title: "mcpwarden gateway", Version: version}
	g.srv = g.newServer()
	return g, nil
}

// checkNames rejects server sets whose namespaced names could collide.
// config.Parse checks the same for files; New checks again because
// configurations can be built in code.
func checkNames(cfg *config.Config, sep string) error {
	seen := make(map[string]string)
	var errs []string
	for _, s := range cfg.Servers {
		if s.Disabled {
			continue
		}
		if s.Name == "" {
			errs = append(errs, "a server has no name")
			continue
		}
		if strings.Contains(s.Name, sep) {
			errs = append(errs, fmt.Sprintf("server %q contains the separator %q, so its tool names would be ambiguous", s.Name, sep))
		}
		key := strings.ToLower(s.Name)
		if other, ok := seen[key]; ok {
			errs = append(errs, fmt.Sprintf("servers %q and %q collide (names are compared case-insensitively)", other, s.Name))
		}
		seen[key] = s.Name
	}
	if len(errs) > 0 {
		return fmt.Errorf("gateway: name collision: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Start connects to every upstream server in the background. It returns
// at once; use [Gateway.WaitReady] to wait for the first connections.
func (g *Gateway) Start(ctx context.Context) {
	ctx, g.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, b := range g.backends {
		go b.run(ctx)
	}
}

// WaitReady waits until every upstream server has connected once, failed
// to start once, or ctx is done. It reports the servers that are not up.
func (g *Gateway) WaitReady(ctx context.Context) error {
	var down []string
	for _, b := range g.backends {
		select {
		case <-b.firstAttempt:
		case <-ctx.Done():
			return fmt.Errorf("waiting for upstream servers: %w", ctx.Err())
		}
		if err := b.status(); err != nil {
			down = append(down, fmt.Sprintf("%s (%v)", b.name, err))
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("servers not available: %s", strings.Join(down, "; "))
	}
	return nil
}

// Drain stops accepting new calls and waits for the ones in flight, up to
// ctx's deadline.
func (g *Gateway) Drain(ctx context.Context) error {
	g.draining.Store(true)
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("draining in-flight calls: %w", ctx.Err())
	}
}

// Close stops every upstream server and ends every session.
func (g *Gateway) Close() error {
	g.closed.Do(func() {
		g.endClosing()
		if g.stop != nil {
			g.stop()
		}
		var wg sync.WaitGroup
		for _, b := range g.backends {
			wg.Add(1)
			go func() { defer wg.Done(); b.close() }()
		}
		wg.Wait()
		g.pending.closeAll()
	})
	return nil
}

// Status describes each upstream server, for /healthz and logs.
type Status struct {
	Name      string `json:"name"`
	Up        bool   `json:"up"`
	Transport string `json:"transport,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	Restarts  int    `json:"restarts"`
	Error     string `json:"error,omitempty"`
	Tools     int    `json:"tools"`
}

// Statuses reports every upstream server's state, in configuration order.
func (g *Gateway) Statuses() []Status {
	out := make([]Status, 0, len(g.backends))
	for _, b := range g.backends {
		out = append(out, b.snapshot())
	}
	return out
}

// Server returns the downstream MCP server, for in-process transports in
// tests and embedding.
func (g *Gateway) Server() *mcp.Server { return g.srv }

func (g *Gateway) backend(name string) (*backend, bool) {
	b, ok := g.byName[name]
	return b, ok
}

func enabled(cfg *config.Config) []config.Server {
	var out []config.Server
	for _, s := range cfg.Servers {
		if !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}

// split turns a namespaced name into server and upstream name.
func (g *Gateway) split(name string) (server, inner string, ok bool) {
	if g.opts.Flat {
		if name == "" {
			return "", "", false
		}
		return g.backends[0].name, name, true
	}
	server, inner, ok = strings.Cut(name, g.sep)
	if !ok || server == "" || inner == "" {
		return "", "", false
	}
	if _, known := g.byName[server]; !known {
		return "", "", false
	}
	return server, inner, true
}

func (g *Gateway) join(server, name string) string {
	if g.opts.Flat {
		return name
	}
	return server + g.sep + name
}
