package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"mcpwarden/internal/demo"
	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
	"mcpwarden/internal/scan"
)

// The seven MCP vulnerability classes the demo must show.
var sevenClasses = []finding.Category{
	finding.ToolPoisoning, finding.CommandInjection, finding.SSRF, finding.PathTraversal,
	finding.SecretExfiltration, finding.IndirectPromptInjection, finding.AuthorizationBypass,
}

// demoRun is what the acts of `mcpwarden demo` share: the running demo
// server and how to print.
type demoRun struct {
	stdio  IO
	log    *slog.Logger
	server *demo.Server
	url    string
	format string
	mode   report.ColorMode
	color  bool
	// report and pins are the scan act's results, for later acts: the
	// pins hold the server's first listing, before its rug pull.
	report *report.Report
	pins   []scan.Pinned
}

// demoAct is one act of the demo. Acts run in order against one demo
// server; an error ends the demo with that error.
type demoAct struct {
	name string
	run  func(ctx context.Context, d *demoRun) error
}

// demoActs lists the acts: the scan, and (once enforcement lands) the
// same attacks stopped by the gateway.
func demoActs() []demoAct {
	return []demoAct{{name: "scan", run: demoScanAct}, {name: "gateway", run: demoGatewayAct}}
}

func newDemoCmd(stdio IO) *cobra.Command {
	var format, color string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan the deliberately vulnerable demo server, then attack it through the gateway: all seven MCP vulnerability classes found and stopped",
		Long: `demo starts mcpwarden's deliberately vulnerable MCP server on a loopback port
(in this process, with a throwaway workspace and fake secrets), scans it over
Streamable HTTP as 'mcpwarden scan URL' would, prints the report and then one
line of evidence for each of the seven classes: tool poisoning, command
injection, SSRF, path traversal, secret exfiltration, indirect prompt injection
and authorization bypass.

Then it puts the gateway in front of the same server, with the policy of
examples/demo.yaml, and makes the attacks an agent would be tricked into:
each one is stopped, with the rule and the reason the agent sees, and
recorded in an audit log whose hash chain is verified at the end. It exits
1 if any class was not found or any attack got through.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if !contains(report.Formats(), format) {
				return usageError("--format %q: want one of %s", format, strings.Join(report.Formats(), ", "))
			}
			mode, err := report.ParseColorMode(color)
			if err != nil {
				return usageError("--color: %v", err)
			}
			log := slog.New(slog.DiscardHandler)
			if verbose {
				log = slog.New(slog.NewTextHandler(stdio.Err, nil))
			}
			srv, err := demo.New(demo.Options{Logger: log})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := demo.ListenLoopback("127.0.0.1:0")
			if err != nil {
				return err
			}
			served := make(chan error, 1)
			go func() { served <- srv.ServeHTTP(ctx, ln) }()
			defer func() { cancel(); <-served }()
			d := &demoRun{stdio: stdio, log: log, server: srv, url: demo.URL(ln), format: format, mode: mode, color: mode.Enabled(stdio.Out, nil)}
			fmt.Fprintf(stdio.Err, "mcpwarden demo: the deliberately vulnerable server is listening on %s (workspace %s)\n", d.url, srv.Workspace().Root)
			for _, act := range demoActs() {
				if err := act.run(ctx, d); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "text", "format of the scan report: "+strings.Join(report.Formats(), ", "))
	cmd.Flags().StringVar(&color, "color", "auto", "colour: auto, always or never")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the demo server's activity to stderr")
	return cmd
}

// demoScanAct scans the demo server and shows each class found.
func demoScanAct(ctx context.Context, d *demoRun) error {
	insp, err := newInspector(d.log)
	if err != nil {
		return err
	}
	t := scan.Target{Kind: scan.URL, Name: demo.Name, Group: scan.CommandLine,
		Server: &discover.Server{Name: demo.Name, Transport: discover.HTTP, URL: d.url, Raw: discover.Raw{URL: d.url}}}
	res, err := scan.Run(ctx, []scan.Target{t}, scan.Options{Logger: d.log, Inspector: insp, Version: version()})
	if err != nil {
		return err
	}
	d.report, d.pins = res.Report, res.Pins
	if err := writeReport(d.stdio.Out, "", res.Report, d.format, d.mode); err != nil {
		return err
	}
	if un := res.Report.Unscanned(); len(un) > 0 {
		return &ExitError{Code: ExitUnscannable, Err: fmt.Errorf("the demo server could not be scanned: %s", un[0].Reason)}
	}
	w := d.stdio.Out
	if d.format != "text" {
		w = d.stdio.Err // keep stdout a clean report
	}
	missing := demoSummary(w, res.Report, d.color && d.format == "text")
	if len(missing) > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the scan missed %d of the seven classes: %s", len(missing), strings.Join(missing, ", "))}
	}
	return nil
}

// demoSummary prints one line of evidence per class and returns the
// classes not found.
func demoSummary(w io.Writer, r *report.Report, color bool) (missing []string) {
	style := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	fmt.Fprintf(w, "\n%s\n", style("1", "THE SEVEN MCP VULNERABILITY CLASSES IN THE DEMO SERVER"))
	all := r.AllFindings()
	for _, c := range append(append([]finding.Category(nil), sevenClasses...), finding.RugPull, finding.ToxicFlow) {
		best := -1
		for i, f := range all {
			if f.Category == c && len(f.Evidence) > 0 && (best < 0 || f.Severity > all[best].Severity) {
				best = i
			}
		}
		if best < 0 {
			if isSeven(c) {
				missing = append(missing, string(c))
				fmt.Fprintf(w, "  %s %-26s not found\n", style("31", "✗"), c)
			}
			continue
		}
		f := all[best]
		where := f.Server
		if f.Tool != "" {
			where = f.Tool
		}
		ev := f.Evidence[0]
		proof := ev.Field
		if ev.Text != "" {
			proof += " “" + oneLine(ev.Text, 70) + "”"
		} else if ev.Note != "" {
			proof += ": " + oneLine(ev.Note, 70)
		}
		fmt.Fprintf(w, "  %s %-26s %-8s %s · %s\n      %s\n", style("32", "✓"), c, strings.ToUpper(f.Severity.String()), where, f.RuleID, proof)
	}
	if len(missing) == 0 {
		fmt.Fprintf(w, "\nAll seven classes found. docs/scan.md explains each rule.\n")
	}
	return missing
}

func isSeven(c finding.Category) bool {
	for _, x := range sevenClasses {
		if x == c {
			return true
		}
	}
	return false
}

// oneLine shortens untrusted text for a summary line, showing control
// and invisible characters as escapes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2060 && r <= 0x206f) || (r >= 0xe0000 && r <= 0xe007f) || r == 0xfeff:
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
		default:
			b.WriteRune(r)
		}
		count++
	}
	return b.String()
}
