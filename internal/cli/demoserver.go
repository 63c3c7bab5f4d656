package cli

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"mcpwarden/internal/demo"
)

// newDemoServerCmd runs the deliberately vulnerable demo server. It is
// hidden: users meet it through `mcpwarden demo`, tests and the demo launch
// it directly.
func newDemoServerCmd(stdio IO) *cobra.Command {
	var httpAddr, workspace string
	var verbose bool
	cmd := &cobra.Command{
		Use:    "demo-server [--http 127.0.0.1:0] [--workspace DIR]",
		Short:  "Run the deliberately vulnerable MCP demo server (stdio, or Streamable HTTP on loopback)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Check the address before creating anything.
			var ln net.Listener
			if httpAddr != "" {
				l, err := demo.ListenLoopback(httpAddr)
				if err != nil {
					return usageError("%v", err)
				}
				defer l.Close()
				ln = l
			}
			var log *slog.Logger
			if verbose {
				log = slog.New(slog.NewTextHandler(stdio.Err, nil))
			}
			srv, err := demo.New(demo.Options{Workspace: workspace, Logger: log})
			if err != nil {
				return err
			}
			defer srv.Close()
			ws := srv.Workspace()
			fmt.Fprintf(stdio.Err, "mcpwarden demo server: DELIBERATELY VULNERABLE, workspace %s (canary %s)\n", ws.Root, ws.Canary)
			if ln == nil {
				// stdout carries the protocol: nothing else may go there.
				return srv.RunStdio(ctx)
			}
			url := demo.URL(ln)
			fmt.Fprintf(stdio.Err, "mcpwarden demo server: listening on %s\n", url)
			// The bare URL on stdout, one line, for scripts and tests.
			fmt.Fprintln(stdio.Out, url)
			return srv.ServeHTTP(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve Streamable HTTP on this loopback address (e.g. 127.0.0.1:0) instead of stdio")
	cmd.Flags().StringVar(&workspace, "workspace", "", "keep the workspace in DIR (default: a temporary directory removed on exit)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log server activity to stderr")
	return cmd
}
