// Package calllog is the pipeline interceptor that logs every message
// crossing the gateway, with its timing: requests and their outcome when
// they finish, server-to-client requests, and notifications in both
// directions. It is an operational log (slog), not the audit trail: the
// audit package keeps the durable, tamper-evident record.
package calllog

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"mcpwarden/internal/pipeline"
)

// Options configures the logger. The zero value logs every message
// without params.
type Options struct {
	Logger *slog.Logger
	// Quiet logs only denials and failures.
	Quiet bool
	// Params includes request params and results, truncated to
	// MaxParamBytes. They may contain secrets: leave it off unless a
	// redacting interceptor runs first.
	Params        bool
	MaxParamBytes int
	// Redactor, when set, removes secrets from logged params and
	// results (the gateway gives it the detection engine's secret
	// detector).
	Redactor interface{ Redact(string) string }
}

// Interceptor logs messages. It never denies.
type Interceptor struct {
	log   *slog.Logger
	quiet bool
	args  bool
	max   int
	red   interface{ Redact(string) string }
}

// New returns a logging interceptor.
func New(opts Options) *Interceptor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	max := opts.MaxParamBytes
	if max <= 0 {
		max = 512
	}
	return &Interceptor{log: log.With("component", "calllog"), quiet: opts.Quiet, args: opts.Params, max: max, red: opts.Redactor}
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "log" }

// Request implements [pipeline.Interceptor]. The log record is written when
// the call finishes, so that it carries the duration and outcome.
func (*Interceptor) Request(context.Context, *pipeline.Call) (pipeline.Verdict, error) {
	return pipeline.Allow, nil
}

// Finish implements [pipeline.Finisher].
func (l *Interceptor) Finish(ctx context.Context, c *pipeline.Call, res json.RawMessage, v pipeline.Verdict, err error) {
	level := slog.LevelInfo
	outcome := "ok"
	switch {
	case v.Deny:
		level, outcome = slog.LevelWarn, "denied"
	case err != nil:
		level, outcome = slog.LevelWarn, "error"
	case l.quiet:
		return
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("method", c.Method),
		slog.String("direction", c.Direction.String()),
		slog.String("outcome", outcome),
		slog.Duration("duration", time.Since(c.Start)),
	)
	if c.Server != "" {
		attrs = append(attrs, slog.String("server", c.Server))
	}
	if c.Name != "" {
		attrs = append(attrs, slog.String("name", c.Name))
	}
	if c.Session != "" {
		attrs = append(attrs, slog.String("session", c.Session))
	}
	if c.Revision != "" {
		attrs = append(attrs, slog.String("revision", c.Revision))
	}
	if !c.Caller.Anonymous() {
		attrs = append(attrs, slog.String("caller", c.Caller.Subject))
	}
	if v.Deny {
		reason := v.Reason
		if l.red != nil {
			reason = l.red.Redact(reason) // reasons may quote argument values
		}
		attrs = append(attrs, slog.String("rule", v.Rule), slog.String("reason", reason))
	}
	if err != nil && !v.Deny {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	if l.args {
		attrs = append(attrs, slog.String("params", l.clip(c.Params)), slog.String("result", l.clip(res)))
	}
	l.log.LogAttrs(ctx, level, "mcp message", attrs...)
}

// Notification implements [pipeline.NotificationInterceptor].
func (l *Interceptor) Notification(ctx context.Context, n *pipeline.Note) (pipeline.Verdict, error) {
	if l.quiet || !l.log.Enabled(ctx, slog.LevelDebug) {
		return pipeline.Allow, nil
	}
	attrs := []slog.Attr{slog.String("method", n.Method), slog.String("direction", n.Direction.String())}
	if n.Server != "" {
		attrs = append(attrs, slog.String("server", n.Server))
	}
	if n.Session != "" {
		attrs = append(attrs, slog.String("session", n.Session))
	}
	if l.args {
		attrs = append(attrs, slog.String("params", l.clip(n.Params)))
	}
	l.log.LogAttrs(ctx, slog.LevelDebug, "mcp notification", attrs...)
	return pipeline.Allow, nil
}

func (l *Interceptor) clip(b []byte) string {
	s := string(b)
	if l.red != nil {
		// Redact before cutting, so a secret across the cut is still
		// recognized.
		s = l.red.Redact(s)
	}
	if len(s) <= l.max {
		return s
	}
	return s[:l.max] + "…"
}

var (
	_ pipeline.Interceptor             = (*Interceptor)(nil)
	_ pipeline.Finisher                = (*Interceptor)(nil)
	_ pipeline.NotificationInterceptor = (*Interceptor)(nil)
)
