package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/pin"
	"mcpwarden/internal/posture"
	"mcpwarden/internal/procenv"
	"mcpwarden/internal/report"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/tooldef"
	"mcpwarden/internal/toxicflow"
	"mcpwarden/internal/upstream"
)

// Defaults of [Options].
const (
	DefaultTimeout     = 60 * time.Second
	DefaultConcurrency = 8
)

// Progress receives the start and end of each target. *report.Progress
// implements it. Calls come from many goroutines at once.
type Progress interface {
	Start(server string)
	Done(server string, status report.Status, note string)
}

// Options configure [Run]. The zero value scans with the defaults, no
// detection engine and no lockfile.
type Options struct {
	Logger *slog.Logger
	// Launcher starts stdio servers; nil means [upstream.Exec], without a
	// sandbox. The CLI always passes [upstream.Sandboxed].
	Launcher upstream.Launcher
	// Profile returns the sandbox profile for a stdio server; nil means
	// the default for its command.
	Profile func(s *discover.Server) *sandbox.Profile
	// Timeout bounds each server: start, probes and listing.
	Timeout time.Duration
	// Concurrency bounds how many targets are reviewed at once.
	Concurrency int
	// Inspector is the detection engine; nil skips poisoning detection.
	Inspector Inspector
	// Lock is the lockfile to compare definitions with; nil skips it.
	Lock *pin.Lock
	// ListOnly skips the analyses: connect, list and pin only (for
	// `mcpwarden pin`).
	ListOnly bool
	// Progress is told about each target; nil means none.
	Progress Progress
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Version is mcpwarden's version, for the report and clientInfo.
	Version string
	// HTTPClient reaches HTTP servers and sends the auth probes; nil
	// means a default client.
	HTTPClient *http.Client
	// Lookup reads the environment for ${env:NAME} in declared values;
	// nil means the process environment.
	Lookup procenv.Lookup
	// Posture configures the launch-posture review.
	Posture posture.Options
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Version == "" {
		o.Version = "dev"
	}
}

// Result is the outcome of [Run].
type Result struct {
	Report *report.Report
	// Pins are the definitions of every server that was reviewed, as
	// first listed, for writing a lockfile.
	Pins []Pinned
}

// Pinned is one reviewed server's lock entry.
type Pinned struct {
	Server string
	Lock   *pin.ServerLock
	// ChangedDuringScan is set when a second listing differed: the pin
	// holds the first.
	ChangedDuringScan bool
}

// server is one target as it is reviewed.
type server struct {
	t   *Target
	rep report.Server

	tools        []tooldef.Tool
	prompts      []json.RawMessage
	resources    []json.RawMessage
	templates    []json.RawMessage
	instructions string
	labels       []toxicflow.Labels // per tool, from analyze
	first        *pin.ServerLock    // the first listing
	changed      bool
}

// Run reviews the targets and returns the report. Targets are reviewed
// in parallel, at most Options.Concurrency at a time. Run fails only
// when ctx ends; every per-target failure is a not-scanned server in the
// report.
func Run(ctx context.Context, targets []Target, o Options) (*Result, error) {
	o.defaults()
	started := o.Now()
	servers := make([]*server, len(targets))
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				servers[i] = notScanned(&targets[i], "scan cancelled")
				return
			}
			defer func() { <-sem }()
			servers[i] = o.review(ctx, &targets[i])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	res := &Result{Report: &report.Report{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.ToolInfo{Name: "mcpwarden", Version: o.Version},
		StartedAt:     started,
	}}
	if !o.ListOnly {
		uniqueNames(servers)
		res.Report.CrossServer = o.crossServer(servers)
	}
	for _, s := range servers {
		res.Report.Servers = append(res.Report.Servers, s.rep)
		if s.first != nil {
			res.Pins = append(res.Pins, Pinned{Server: s.rep.Name, Lock: s.first, ChangedDuringScan: s.changed})
		}
	}
	if rl, ok := o.Inspector.(RuleLister); ok {
		res.Report.Tool.RulePacks = rl.Packs()
	}
	res.Report.Rules = o.firedRules(res.Report)
	res.Report.FinishedAt = o.Now()
	return res, nil
}

// firedRules documents the rules behind the report's findings.
func (o *Options) firedRules(r *report.Report) []report.Rule {
	known := map[string]report.Rule{}
	for _, x := range Rules() {
		known[x.ID] = x
	}
	if rl, ok := o.Inspector.(RuleLister); ok {
		for _, x := range rl.Rules() {
			known[x.ID] = x
		}
	}
	seen := map[string]bool{}
	var out []report.Rule
	for _, f := range r.AllFindings() {
		if seen[f.RuleID] {
			continue
		}
		seen[f.RuleID] = true
		if x, ok := known[f.RuleID]; ok {
			out = append(out, x)
		}
	}
	return out
}

// AddRules documents rules added to a report after [Run] (an expired
// suppression, say).
func AddRules(r *report.Report, rules []report.Rule) {
	have := map[string]bool{}
	for _, x := range r.Rules {
		have[x.ID] = true
	}
	fired := map[string]bool{}
	for _, f := range r.AllFindings() {
		fired[f.RuleID] = true
	}
	for _, x := range rules {
		if fired[x.ID] && !have[x.ID] {
			r.Rules = append(r.Rules, x)
			have[x.ID] = true
		}
	}
}

func notScanned(t *Target, reason string) *server {
	s := &server{t: t}
	s.rep = baseReport(t)
	s.rep.Status, s.rep.Reason = report.NotScanned, reason
	return s
}

func baseReport(t *Target) report.Server {
	r := report.Server{Name: t.Name, Source: t.source()}
	switch {
	case t.Kind == Definitions:
		r.Transport = "file"
	case t.Server != nil:
		r.Transport = string(t.Server.Transport)
		if t.Server.Transport == discover.Stdio {
			r.Command = append([]string{t.Server.Command}, t.Server.Args...)
		}
		r.URL = t.Server.URL
	}
	return r
}

// review handles one target from start to analyses.
func (o *Options) review(ctx context.Context, t *Target) *server {
	if o.Progress != nil {
		o.Progress.Start(t.Name)
	}
	s := &server{t: t, rep: baseReport(t)}
	switch t.Kind {
	case Broken:
		s.rep.Status, s.rep.Reason = report.NotScanned, "the config could not be read: "+t.Problem
	case Definitions:
		o.static(s)
	default:
		s.rep.Findings = append(s.rep.Findings, o.posture(t.Server)...)
		o.launch(ctx, s)
	}
	if s.rep.Status.Reviewed() && !o.ListOnly {
		o.analyze(s)
	}
	if o.Progress != nil {
		note := s.rep.Reason
		if s.rep.Status.Reviewed() {
			note = fmt.Sprintf("%d tools", len(s.tools))
		}
		o.Progress.Done(t.Name, s.rep.Status, note)
	}
	return s
}

func (o *Options) posture(d *discover.Server) []finding.Finding {
	var out []finding.Finding
	for _, f := range posture.Review(d, o.Posture) {
		out = append(out, f.Finding)
	}
	return out
}

// static reads a definitions file: nothing is launched.
func (o *Options) static(s *server) {
	data, err := readLimited(s.t.Path, tooldef.MaxFileSize)
	if err != nil {
		s.rep.Status, s.rep.Reason = report.NotScanned, err.Error()
		return
	}
	defs, err := tooldef.ParseFile(data)
	if err != nil {
		s.rep.Status, s.rep.Reason = report.NotScanned, err.Error()
		return
	}
	s.rep.Status = report.Static
	s.decodeTools(defs)
	if abs, err := filepath.Abs(s.t.Path); err == nil {
		s.pinAs(pin.Identity{Key: "definitions:" + abs, ID: "definitions:" + abs, Note: "a static definitions file"})
	}
}

func readLimited(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read definitions: %w", err)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("definitions file %s is larger than %d MiB", path, limit>>20)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read definitions: %w", err)
	}
	return data, nil
}

// decodeTools decodes tool definitions; a definition that cannot be read
// is reported, never dropped silently.
func (s *server) decodeTools(defs []json.RawMessage) {
	s.tools = s.tools[:0]
	for i, raw := range defs {
		t, err := tooldef.Decode(raw)
		if err != nil {
			s.rep.Findings = append(s.rep.Findings, unreadable(s.rep.Name, t.Name, fmt.Sprintf("tools[%d]", i), err))
			continue
		}
		s.tools = append(s.tools, t)
	}
}

func unreadable(server, item, field string, err error) finding.Finding {
	r := ruleDefault(UnreadableDefinition)
	return finding.Finding{RuleID: r.ID, Category: r.Category, Severity: r.Severity, Confidence: 1, Server: server, Tool: item,
		Title:    "A definition could not be reviewed",
		Detail:   "The definition is malformed or beyond the scan's limits, so it was not reviewed: treat it as unreviewed, not as clean.",
		Evidence: []finding.Evidence{{Field: field, Note: err.Error()}}}
}

// pinAs computes the lock entry of what was listed.
func (s *server) pinAs(id pin.Identity) {
	snap := pin.Snapshot{Name: s.rep.Name, Identity: id, Instructions: s.instructions, Prompts: s.prompts, ResourceTemplates: s.templates}
	seen := map[string]bool{}
	for _, t := range s.tools {
		if !seen[t.Name] { // a duplicate is reported by the shadowing analysis
			seen[t.Name] = true
			snap.Tools = append(snap.Tools, t.Raw)
		}
	}
	l, err := pin.Pin(snap)
	if err != nil {
		s.rep.Findings = append(s.rep.Findings, unreadable(s.rep.Name, "", "pin", err))
		return
	}
	s.first = l
}
