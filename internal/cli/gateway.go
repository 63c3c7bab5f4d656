package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"mcpwarden/internal/authn"
	"mcpwarden/internal/config"
	"mcpwarden/internal/controls"
	"mcpwarden/internal/gateway"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/upstream"
)

func newGatewayCmd(stdio IO) *cobra.Command {
	var (
		cfgPath string
		listen  string
		lf      logFlags
	)
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run the enforcing MCP gateway over Streamable HTTP",
		Long: `Run mcpwarden as an MCP gateway: one Streamable HTTP endpoint (default
http://127.0.0.1:8750/mcp) in front of every server in the configuration,
with tools and prompts namespaced as SERVER__NAME. Both protocol revisions
are served on the same URL; legacy HTTP+SSE clients use /mcp/sse.
GET /healthz reports the state of every upstream server.

Callers authenticate as policy.auth says: API keys or JWT bearer tokens,
with OAuth Protected Resource Metadata at /.well-known/oauth-protected-resource.
Listening beyond loopback requires policy.auth (see docs/policy.md).

SIGTERM or SIGINT stops accepting new calls, waits for the ones in flight
(gateway.drain_timeout), then exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := lf.logger(stdio.Err)
			if err != nil {
				return err
			}
			if cfgPath == "" {
				return usageError("--config is required: the gateway needs to know which servers to front")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				if errors.Is(err, config.ErrNotFound) {
					return usageError("%v", err)
				}
				return configError(err)
			}
			if listen != "" {
				cfg.Gateway.Listen = listen
			}
			loopback := gateway.IsLoopbackListen(cfg.Gateway.Listen)
			if err := config.CheckExposure(cfg.Gateway.Listen, &cfg.Policy.Auth); err != nil {
				return usageError("refusing to listen: %v", err)
			}
			authr, err := authn.New(authn.Options{Config: cfg.Policy.Auth, Path: cfg.Gateway.Path, Logger: log})
			if err != nil {
				return configError(err)
			}
			set, err := controls.Build(cmd.Context(), cfg, controls.Deps{Logger: log, Version: version()})
			if err != nil {
				return configError(err)
			}
			defer set.Close()
			opts := gateway.Options{Config: cfg, Chain: set.Chain, Logger: log, Version: version(), Launcher: newLauncher(log, set)}
			if authr.Enabled() {
				opts.Identify = authr.Identify
				logAuth(cmd.Context(), authr, cfg, log)
			}
			g, err := gateway.New(opts)
			if err != nil {
				return configError(err)
			}
			set.OnPinsChanged(g.ToolsChanged) // an approval shows at once
			return serveGateway(cmd.Context(), g, cfg, loopback, authr, stdio, log)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address, overriding gateway.listen (default "+config.DefaultListen+")")
	lf.register(cmd)
	return cmd
}

// newLauncher starts stdio servers in their sandboxes. A server whose
// isolation cannot be set up does not start.
// Their network connections are audited through the control set.
func newLauncher(log *slog.Logger, set *controls.Set) upstream.Launcher {
	return upstream.Sandboxed{Sandboxer: sandbox.New(sandbox.Options{Logger: log, OnEgress: set.Egress})}
}

// logAuth reports how callers authenticate, and fetches the issuer's keys
// in the background so that a broken issuer shows in the log at once.
func logAuth(ctx context.Context, a *authn.Authenticator, cfg *config.Config, log *slog.Logger) {
	au := cfg.Policy.Auth
	issuer := ""
	if au.JWT != nil {
		issuer = au.JWT.Issuer
	}
	log.Info("callers must authenticate", "api_keys", len(au.APIKeys), "jwt_issuer", issuer)
	if au.JWT == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
		defer cancel()
		if err := a.Prefetch(ctx); err != nil {
			log.Warn("the JWT issuer's signing keys could not be fetched; token callers get 503 until they can", "issuer", issuer, "err", err)
		}
	}()
}

func serveGateway(ctx context.Context, g *gateway.Gateway, cfg *config.Config, loopback bool, authr *authn.Authenticator, stdio IO, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Gateway.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	g.Start(ctx)
	srv := &http.Server{
		Handler:           authr.Handler(g.Handler(gateway.HTTPOptions{Loopback: loopback, Wrap: authr.Wrap})),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdio.Err, "mcpwarden gateway listening on http://%s%s\n", ln.Addr(), cfg.Gateway.Path)

	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	if err := g.WaitReady(readyCtx); err != nil && ctx.Err() == nil {
		log.Warn("not every upstream server is up; they will be retried", "err", err)
	}
	cancel()

	select {
	case err := <-served:
		g.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight calls", "timeout", cfg.Gateway.DrainTimeout.D())
	dctx, cancel := context.WithTimeout(context.Background(), cfg.Gateway.DrainTimeout.D())
	defer cancel()
	if err := g.Drain(dctx); err != nil {
		log.Warn("drain timed out; abandoning the remaining calls", "err", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx) // long-lived SSE streams never finish on their own
	_ = srv.Close()
	g.Close()
	log.Info("stopped")
	return nil
}
