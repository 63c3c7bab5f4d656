// Command mcpwarden is a security scanner and enforcing gateway for the
// Model Context Protocol. This file only wires the CLI; every capability
// lives in a package under internal/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"mcpwarden/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
