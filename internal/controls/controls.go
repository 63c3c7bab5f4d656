// Package controls assembles the gateway's interceptor chain from the
// policy in the configuration. It is the one place that decides which
// controls run and in which order: every control is a package of its own
// that knows nothing of the others, and of the gateway.
//
// The order matters. Controls that record (audit) come first so that they
// see every request, including denied ones; controls that decide who may
// do what come before controls that inspect what is done; rewriting
// controls come last on the way in and first on the way out.
//
// The chain, in request order:
//
//  1. audit: records the request before anything acts on it, and the
//     decision (with every control's verdict) when the call ends.
//  2. calllog: the operational log of messages.
//  3. access: the identity-dependent decision (policy.access): who may
//     use which tool, prompt or resource; allow, deny or ask a human. It
//     runs before anything that spends effort on the request, so a caller
//     learns nothing from, and consumes nothing of, what it may not use.
//     On the way out it filters list results to what the caller may use.
//  4. limits: rate limits, argument sizes, call timeouts (policy.limits).
//     After access, so that denied requests do not consume a caller's
//     rate budget; before the content controls, so that floods and
//     oversized arguments are refused before they are inspected. Its
//     result-size check is a separate interceptor at the very end of the
//     chain, so on the way out it refuses oversized results first,
//     before any content control inspects them.
//  5. the content controls, in this order: tools (toolguard) denies calls
//     of withheld tools and prompts (poisoned, changed since pinned,
//     unpinned) first, and on the way out lists lose withheld items;
//     arguments (argcheck) validates the inputSchema and the per-argument
//     constraints on the arguments as the agent sent them; flows (taint)
//     checks toxic flows, which may ask a human, and on the way out
//     taints the session with what the agent actually saw; dlp redacts
//     credentials from arguments to exfiltration sinks, the last rewrite
//     before the upstream; output (outguard) inspects, sanitizes and
//     redacts results, prompts and resources first on the way out, so
//     every control before it (and the audit record) sees the result the
//     agent gets.
package controls

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"mcpwarden/internal/access"

	"mcpwarden/internal/audit"
	"mcpwarden/internal/calllog"
	"mcpwarden/internal/config"
	"mcpwarden/internal/detect"
	"mcpwarden/internal/egress"
	"mcpwarden/internal/limits"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/toolguard"
)

// Deps are what controls need from their surroundings. The zero value is
// usable.
type Deps struct {
	Logger *slog.Logger
	// Version names mcpwarden in exported traces.
	Version string
}

// Set is a built chain plus what must be closed when the gateway stops
// (audit sinks, ...).
type Set struct {
	Chain   *pipeline.Chain
	closers []func() error
	audit   *audit.Log
	tools   *toolguard.Interceptor
	log     *slog.Logger
}

// OnPinsChanged registers f to run when the lockfile changed on disk (an
// approval with mcpwarden pin approve): what clients may list changed.
func (s *Set) OnPinsChanged(f func()) {
	if s.tools != nil {
		s.tools.OnChange(f)
	}
}

// FlushAudit waits until the audit records written so far are visible to
// readers of the log.
func (s *Set) FlushAudit() error {
	if s.audit == nil {
		return nil
	}
	return s.audit.Flush()
}

// Egress records a sandboxed server's network connection, allowed or
// denied, in the audit log and the operational log. The sandbox calls it
// (sandbox.Options.OnEgress); Cause names the calls that were in flight.
func (s *Set) Egress(ev egress.Event) {
	d := audit.Decision{Action: audit.Allow, Rule: "egress.allowlist", Reason: ev.Rule, Control: "egress"}
	level := slog.LevelInfo
	if !ev.Allowed {
		d.Action, d.Reason, level = audit.Deny, ev.Reason, slog.LevelWarn
	}
	target := net.JoinHostPort(ev.Host, strconv.Itoa(int(ev.Port)))
	s.log.Log(context.Background(), level, "egress", "server", ev.Server, "cause", ev.Cause, "method", ev.Method, "target", target, "ip", ev.IP.String(), "allowed", ev.Allowed, "reason", ev.Reason, "redirect", ev.Redirect, "dial_error", ev.DialError)
	if s.audit == nil {
		return
	}
	args, _ := json.Marshal(map[string]any{"method": ev.Method, "target": target, "ip": ev.IP.String(), "url": ev.URL, "redirect": ev.Redirect})
	r := &audit.Record{
		Time:      ev.Time,
		Kind:      audit.KindDecision,
		CallID:    "egress-" + rand.Text(),
		Server:    ev.Server,
		Name:      ev.Cause,
		Method:    "egress/" + strings.ToLower(ev.Method),
		Direction: "to_network",
		Args:      string(args),
		Decision:  d.Action,
		Decisions: []audit.Decision{d},
		Error:     ev.DialError,
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if err := s.audit.Write(context.Background(), r); err != nil {
		s.log.Error("auditing an egress connection failed", "err", err)
	}
}

// Close releases every control's resources.
func (s *Set) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Build assembles the chain for cfg. A control that cannot be set up is an
// error: the gateway must not run without a control its policy asks for.
func Build(ctx context.Context, cfg *config.Config, deps Deps) (*Set, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := &Set{log: log}
	var ics []pipeline.Interceptor

	// One detection engine serves every control, and the audit log
	// redacts with its secret detector.
	eng, err := detect.New(detect.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("building the detection engine: %w", err)
	}

	// Audit first, so that it records every request, even those a later
	// control denies.
	var tp trace.TracerProvider
	if cfg.Policy.Audit.Sinks.OTel {
		sdk, err := newTracerProvider(ctx, deps.Version)
		if err != nil {
			return nil, err
		}
		set.closers = append(set.closers, func() error { return sdk.Shutdown(context.Background()) })
		tp = sdk
	}
	alog, err := audit.New(ctx, audit.Options{Config: cfg.Policy.Audit, Logger: log, TracerProvider: tp, Redactor: secretRedactor{eng.Secrets()}})
	if err != nil {
		return nil, fmt.Errorf("opening the audit log: %w", err)
	}
	set.closers = append(set.closers, alog.Close)
	set.audit = alog
	ics = append(ics, alog)

	ics = append(ics, calllog.New(calllog.Options{Logger: log, Quiet: !*cfg.Policy.Log.Messages, Params: cfg.Policy.Log.Params, Redactor: secretRedactor{eng.Secrets()}}))

	// Who may do what, then how much of it.
	if cfg.Policy.Access.Enabled() {
		p, es := access.Compile(cfg.Policy.Access)
		if len(es) > 0 {
			set.Close()
			return nil, fmt.Errorf("compiling policy.access: %w", es.Prefix("policy.access"))
		}
		ics = append(ics, access.New(access.Options{Policy: p, Logger: log}))
	}
	var resultGuard pipeline.Interceptor
	if cfg.Policy.Limits.Enabled() {
		lim, err := limits.New(limits.Options{Config: cfg.Policy.Limits, Logger: log})
		if err != nil {
			set.Close()
			return nil, err
		}
		ics = append(ics, lim)
		resultGuard = lim.ResultGuard()
	}

	// What is sent and what comes back.
	content, closers, err := contentControls(cfg, eng, log)
	set.closers = append(set.closers, closers...)
	if err != nil {
		set.Close()
		return nil, err
	}
	ics = append(ics, content...)
	if resultGuard != nil {
		ics = append(ics, resultGuard) // last, so first on the way back
	}
	for _, ic := range content {
		if tg, ok := ic.(*toolguard.Interceptor); ok {
			set.tools = tg
		}
	}

	set.Chain = pipeline.NewChain(ics...)
	if set.Chain.Len() == 0 {
		return nil, fmt.Errorf("building controls: no interceptor")
	}
	return set, nil
}
