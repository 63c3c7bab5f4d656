// Package scan is the MCP security review behind `mcpwarden scan`: it
// turns targets (the servers declared in client configs, a definitions
// file, a URL, a command) into a [report.Report].
//
// For each target it reviews the launch posture from the declaration
// (package posture), connects and lists everything the server offers
// (package upstream; stdio servers run sandboxed, with a scrubbed
// environment and a timeout), probes the auth model of HTTP servers
// (package authcheck), and runs the analyses over the definitions: the
// detection engine (an [Inspector]), capability classification, schema
// review, pinning against mcpwarden.lock and a second listing that
// catches a rug pull during the scan. Across the servers of one client it
// looks for cross-server shadowing, duplicate and look-alike names, and
// toxic flows.
//
// Targets are scanned in parallel with bounded concurrency, so the whole
// scan takes about as long as the slowest server. A target that fails to
// start, times out or needs credentials is reported as not scanned with
// the reason, never as clean.
//
//	targets, err := scan.Resolve(ctx, args, command, scan.TargetOptions{})
//	res, err := scan.Run(ctx, targets, scan.Options{Launcher: launcher, Inspector: engine})
//	report.Render(os.Stdout, res.Report, "text", report.RenderOptions{})
package scan
