package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/pin"
	"mcpwarden/internal/report"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/scan"
	"mcpwarden/internal/suppress"
	"mcpwarden/internal/upstream"
)

// BearerEnv is the environment variable the scan reads a bearer token
// from for URL targets when --bearer-env is not given.
const BearerEnv = "MCPWARDEN_BEARER_TOKEN"

// targetFlags select and reach the servers to review; scan and pin share
// them.
type targetFlags struct {
	timeout     time.Duration
	concurrency int
	headers     []string
	bearerEnv   string
	name        string
	lf          logFlags
	pf          profileFlags
}

func (f *targetFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.DurationVar(&f.timeout, "timeout", scan.DefaultTimeout, "time allowed per server: start, probes and listing")
	fl.IntVar(&f.concurrency, "concurrency", scan.DefaultConcurrency, "servers reviewed at once")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "HTTP header 'Name: value' for URL targets (repeatable; the value may be ${env:NAME})")
	fl.StringVar(&f.bearerEnv, "bearer-env", "", "send 'Authorization: Bearer $NAME' to URL targets (default: $"+BearerEnv+" when set)")
	fl.StringVar(&f.name, "name", "", "server name for the command after -- (default: derived from the command)")
	fl.StringVar(&f.lf.level, "log-level", "error", "log level: debug, info, warn or error (logs go to stderr)")
	fl.StringVar(&f.lf.format, "log-format", "text", "log format: text or json")
	f.pf.register(c)
}

// split separates the targets before "--" from the command after it.
func split(cmd *cobra.Command, args []string) (targets, command []string) {
	if at := cmd.ArgsLenAtDash(); at >= 0 {
		return args[:at], args[at:]
	}
	return args, nil
}

func (f *targetFlags) headerMap() (map[string]string, error) {
	h := map[string]string{}
	for _, kv := range f.headers {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") {
			return nil, usageError("--header %q: want 'Name: value'", kv)
		}
		h[k] = v
	}
	name := f.bearerEnv
	if name == "" {
		if _, ok := os.LookupEnv(BearerEnv); ok {
			name = BearerEnv
		}
	}
	if name != "" {
		tok, ok := os.LookupEnv(name)
		if !ok || tok == "" {
			return nil, usageError("--bearer-env %s: the variable is not set", name)
		}
		h["Authorization"] = "Bearer " + tok
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// resolve turns the command line into targets.
func (f *targetFlags) resolve(ctx context.Context, targets, command []string) ([]scan.Target, error) {
	headers, err := f.headerMap()
	if err != nil {
		return nil, err
	}
	cwd, _ := os.Getwd()
	ts, err := scan.Resolve(ctx, targets, command, scan.TargetOptions{Headers: headers, Name: f.name, Discover: discover.Options{Cwd: cwd}})
	if errors.Is(err, scan.ErrNoTarget) {
		return nil, usageError("%v", err)
	}
	if err != nil {
		return nil, err
	}
	if f.pf.set() {
		// Check the profile flags once, up front, as usage errors.
		if _, _, err := f.pf.apply(""); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// options builds the scan options shared by scan, pin and demo.
func (f *targetFlags) options(log *slog.Logger) scan.Options {
	return scan.Options{
		Logger:      log,
		Launcher:    upstream.Sandboxed{Sandboxer: sandbox.New(sandbox.Options{Logger: log})},
		Profile:     f.profile,
		Timeout:     f.timeout,
		Concurrency: f.concurrency,
		Version:     version(),
	}
}

// profile is the sandbox of a server under review: the default for its
// command, plus read-only access to the script and directory its
// declaration names, plus the profile flags.
func (f *targetFlags) profile(d *discover.Server) *sandbox.Profile {
	p, _, err := f.pf.apply(d.Command)
	if err != nil {
		p = sandbox.DefaultFor(d.Command) // checked in resolve; unreachable
	}
	p.ReadOnly = append(p.ReadOnly, scan.ReadablePaths(d)...)
	return &p
}

func newScanCmd(stdio IO) *cobra.Command {
	var (
		tf                       targetFlags
		format, output, failOn   string
		color, lockfile          string
		baseline, writeBaseline  string
		justification, expiresAt string
	)
	cmd := &cobra.Command{
		Use:   "scan [flags] [TARGET...] [-- CMD [ARGS...]]",
		Short: "Review MCP servers for tool poisoning, injection, SSRF, leaks, weak auth and rug pulls",
		Long: `scan is an MCP security review. Each TARGET is

  an http(s):// URL        a remote server (Streamable HTTP, or legacy SSE);
                           credentials from --header / --bearer-env
  a client config file     every server it declares (Claude, Cursor, VS Code, ...)
  a definitions file       a tools/list result, a JSON array of tools or JSONL:
                           static review, nothing is launched
  -- CMD ARGS...           a stdio server

With no target, the MCP client configurations on this machine are discovered
and every server they declare is reviewed. Servers run sandboxed with a
scrubbed environment and a --timeout; many are reviewed in parallel.

The review lists every tool, prompt and resource, classifies what each tool
touches, runs the detection engine over all text, reviews input schemas,
the launch command, the auth model of HTTP servers, cross-server shadowing
and toxic flows, and compares with mcpwarden.lock. docs/scan.md explains
every rule.

Exit status: 0 nothing at or above --fail-on; 1 findings at or above it;
2 usage error; 3 some targets could not be scanned (never counted clean).`,
		Example: `  mcpwarden scan                                   # every server in every client config
  mcpwarden scan ~/.cursor/mcp.json --format sarif -o mcp.sarif
  mcpwarden scan https://mcp.example.com/mcp --bearer-env MCP_TOKEN
  mcpwarden scan tools.json                        # static: a tools/list dump
  mcpwarden scan --ro ./server -- node ./server/index.js`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			threshold, err := parseFailOn(failOn)
			if err != nil {
				return err
			}
			if !contains(report.Formats(), format) {
				return usageError("--format %q: want one of %s", format, strings.Join(report.Formats(), ", "))
			}
			mode, err := report.ParseColorMode(color)
			if err != nil {
				return usageError("--color: %v", err)
			}
			var sup *suppress.File
			if baseline != "" {
				if sup, err = suppress.Load(baseline); err != nil {
					return usageError("--baseline: %v", err)
				}
			}
			var expires time.Time
			if expiresAt != "" {
				if expires, err = suppress.ParseDate(expiresAt); err != nil {
					return usageError("--expires: %v", err)
				}
			}
			if writeBaseline != "" && strings.TrimSpace(justification) == "" {
				return usageError("--write-baseline needs --justification: say why the current findings are accepted")
			}
			lock, err := readLock(lockfile, cmd.Flags().Changed("lockfile"))
			if err != nil {
				return err
			}
			log, err := tf.lf.logger(stdio.Err)
			if err != nil {
				return err
			}
			tArgs, command := split(cmd, args)
			targets, err := tf.resolve(ctx, tArgs, command)
			if err != nil {
				return err
			}
			if len(targets) == 0 {
				fmt.Fprintln(stdio.Err, "mcpwarden: no MCP servers found: no client configuration on this machine declares one (give a TARGET)")
			}
			opts := tf.options(log)
			opts.Lock = lock
			opts.Inspector, err = newInspector(log)
			if err != nil {
				return err
			}
			prog := progressFor(stdio.Err, mode, len(targets))
			if prog != nil {
				opts.Progress = prog
			}
			res, err := scan.Run(ctx, targets, opts)
			prog.Close()
			if err != nil {
				return err
			}
			r := res.Report
			if sup != nil {
				out := sup.Apply(r, time.Now())
				scan.AddRules(r, suppress.Rules())
				for _, s := range out.Expired {
					fmt.Fprintf(stdio.Err, "mcpwarden: %s:%d: suppression expired on %s; its findings are reported again\n", baseline, s.Line, s.Expires.Format(time.DateOnly))
				}
			}
			if writeBaseline != "" {
				data, err := suppress.Baseline(r, justification, expires).Encode()
				if err == nil {
					err = os.WriteFile(writeBaseline, data, 0o644)
				}
				if err != nil {
					return fmt.Errorf("write baseline: %w", err)
				}
				fmt.Fprintf(stdio.Err, "mcpwarden: wrote %d suppressions to %s\n", len(r.AllFindings()), writeBaseline)
			}
			if err := writeReport(stdio.Out, output, r, format, mode); err != nil {
				return err
			}
			return scanExit(r, threshold)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&format, "format", "f", "text", "report format: "+strings.Join(report.Formats(), ", "))
	fl.StringVarP(&output, "output", "o", "", "write the report to FILE instead of stdout")
	fl.StringVar(&failOn, "fail-on", "high", "exit 1 on findings at or above this severity: info, low, medium, high, critical or none")
	fl.StringVar(&color, "color", "auto", "colour the text report: auto (terminal and no NO_COLOR), always or never")
	fl.StringVar(&lockfile, "lockfile", pin.DefaultLockfile, "compare definitions with this lockfile (used when it exists)")
	fl.StringVar(&baseline, "baseline", "", "suppression file: accepted findings, each with a justification and optional expiry")
	fl.StringVar(&writeBaseline, "write-baseline", "", "write every current finding to FILE as a suppression (needs --justification)")
	fl.StringVar(&justification, "justification", "", "justification recorded by --write-baseline")
	fl.StringVar(&expiresAt, "expires", "", "expiry date (2026-12-31) recorded by --write-baseline")
	tf.register(cmd)
	return cmd
}

func parseFailOn(s string) (*finding.Severity, error) {
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	sev, err := finding.ParseSeverity(s)
	if err != nil {
		return nil, usageError("--fail-on: %v (or none)", err)
	}
	return &sev, nil
}

// readLock reads the lockfile. The default one is optional; a lockfile
// named explicitly must exist.
func readLock(path string, explicit bool) (*pin.Lock, error) {
	l, err := pin.Read(path)
	switch {
	case err == nil:
		return l, nil
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageError("--lockfile %s: no such file (run mcpwarden pin to create it)", path)
	}
	return nil, usageError("%v", err)
}

func progressFor(w io.Writer, mode report.ColorMode, total int) *report.Progress {
	return report.NewProgress(w, report.ProgressOptions{Enabled: report.IsTerminal(w), Color: mode.Enabled(w, nil), Total: total})
}

// writeReport renders to -o FILE (atomically) or stdout.
func writeReport(stdout io.Writer, output string, r *report.Report, format string, mode report.ColorMode) error {
	opts := report.RenderOptions{}
	w := stdout
	if output != "" {
		opts.Color = mode == report.ColorAlways
		var buf bytes.Buffer
		if err := report.Render(&buf, r, format, opts); err != nil {
			return err
		}
		tmp := output + ".tmp"
		if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if err := os.Rename(tmp, output); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	opts.Color = mode.Enabled(w, nil)
	if f, ok := w.(interface{ Fd() uintptr }); ok && report.IsTerminal(w) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			opts.Width = cols
		}
	}
	return report.Render(w, r, format, opts)
}

// scanExit maps a report to the exit status: 3 when anything could not
// be scanned (the review is incomplete whatever it found), 1 for findings
// at or above the threshold, 0 otherwise.
func scanExit(r *report.Report, threshold *finding.Severity) error {
	if un := r.Unscanned(); len(un) > 0 {
		names := make([]string, len(un))
		for i, s := range un {
			names[i] = s.Name
		}
		return &ExitError{Code: ExitUnscannable, Err: fmt.Errorf("%d of %d targets could not be scanned: %s", len(un), len(r.Servers), strings.Join(names, ", "))}
	}
	if threshold != nil {
		n := 0
		for _, f := range r.AllFindings() {
			if f.Severity >= *threshold {
				n++
			}
		}
		if n > 0 {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d findings at or above %s", n, *threshold)}
		}
	}
	return nil
}
