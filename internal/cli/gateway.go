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

	"mcpwarden/internal/config"
	"mcpwarden/internal/controls"
	"mcpwarden/internal/gateway"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/upstream"
)

func newGatewayCmd(stdio IO) *cobra.Command {
	var (
		cfgPath     string
		listen      string
		allowRemote bool
		lf          logFlags
	)
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run the enforcing MCP gateway over Streamable HTTP",
		Long: `Run mcpwarden as an MCP gateway: one Streamable HTTP endpoint (default
http://127.0.0.1:8750/mcp) in front of every server in the configuration,
with tools and prompts namespaced as SERVER__NAME. Both protocol revisions
are served on the same URL; legacy HTTP+SSE clients use /mcp/sse.
GET /healthz reports the state of every upstream server.

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
			if !loopback && !allowRemote {
				return usageError("refusing to listen on %s: it is reachable from other machines and callers are not authenticated; listen on 127.0.0.1 or pass --allow-remote", cfg.Gateway.Listen)
			}
			if !loopback {
				log.Warn("listening beyond loopback: any host that can reach this address can use every configured server", "listen", cfg.Gateway.Listen)
			}
			set, err := controls.Build(cmd.Context(), cfg, controls.Deps{Logger: log})
			if err != nil {
				return configError(err)
			}
			defer set.Close()
			g, err := gateway.New(gateway.Options{Config: cfg, Chain: set.Chain, Logger: log, Version: version(), Launcher: newLauncher(log, set)})
			if err != nil {
				return configError(err)
			}
			return serveGateway(cmd.Context(), g, cfg, loopback, stdio, log)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address, overriding gateway.listen (default "+config.DefaultListen+")")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow listening on a non-loopback address")
	lf.register(cmd)
	return cmd
}

// newLauncher starts stdio servers in their sandboxes. A server whose
// isolation cannot be set up does not start.
// Their network connections are audited through the control set.
func newLauncher(log *slog.Logger, set *controls.Set) upstream.Launcher {
	return upstream.Sandboxed{Sandboxer: sandbox.New(sandbox.Options{Logger: log, OnEgress: set.Egress})}
}

func serveGateway(ctx context.Context, g *gateway.Gateway, cfg *config.Config, loopback bool, stdio IO, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Gateway.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	g.Start(ctx)
	srv := &http.Server{
		Handler:           g.Handler(gateway.HTTPOptions{Loopback: loopback}),
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
