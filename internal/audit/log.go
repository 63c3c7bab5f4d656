package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

var discard = slog.New(slog.DiscardHandler)

// Sink is one destination of records. Write must be safe for concurrent
// use, must return only once r is stored under the sink's sync policy, and
// must not keep r after it returns. A chained sink sets the chain fields
// on its own copy, not on r.
type Sink interface {
	Name() string
	Write(ctx context.Context, r *Record) error
	Close() error
}

// Source is a stored audit log that can be read back. A Source is used by
// one goroutine at a time.
type Source interface {
	// Scan calls fn for every record matching f, in seq order, stopping at
	// f.Limit matches or the first error from fn. It returns the seq of
	// the last record it read, matching or not, so a follower can resume
	// after it.
	Scan(ctx context.Context, f Filter, fn func(*Record) error) (uint64, error)
	Close() error
}

// chained is implemented by the sinks built on a committer, so [Log] can
// queue a record on all of them before waiting for any.
type chained interface {
	committer() *committer
}

// Options configures [New]. The zero value writes to SQLite at
// [DefaultPath] and fails closed.
type Options struct {
	Config

	// Logger receives loud reports of sink failures and recoveries; nil
	// discards them (the failures are still counted and still deny).
	Logger *slog.Logger
	// Redactor removes secrets from arguments, results and errors. nil
	// means [BuiltinRedactor]. Ignored when Config.Redact is false.
	Redactor Redactor
	// TracerProvider is required when Config.Sinks.OTel is on.
	TracerProvider trace.TracerProvider
	// ExtraSinks are used in addition to those Config selects; the Log
	// closes them when it is closed.
	ExtraSinks []Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Log is the audit log: it builds records from calls, fans them out to
// every sink, and applies the failure policy. It is the pipeline
// interceptor (see [Log.Request] and [Log.Finish]). A Log is safe for
// concurrent use.
type Log struct {
	sinks    []*sinkState
	onError  ErrorPolicy
	redactor Redactor // nil when redaction is off
	maxArgs  int
	maxRes   int
	log      *slog.Logger
	now      func() time.Time

	idPrefix string // random per Log, so call IDs are unique across restarts
	idSeq    atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// New opens the sinks opts selects. A sink that cannot be opened is an
// error: a gateway must not start without its audit log.
func New(ctx context.Context, opts Options) (*Log, error) {
	if err := opts.Config.validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = discard
	}
	logger = logger.With("component", "audit")
	l := &Log{
		onError: opts.OnError,
		maxArgs: opts.maxArgs(),
		maxRes:  opts.maxResult(),
		log:     logger,
		now:     opts.Now,
	}
	if l.onError == "" {
		l.onError = OnErrorDeny
	}
	if l.now == nil {
		l.now = time.Now
	}
	if opts.redact() {
		l.redactor = opts.Redactor
		if l.redactor == nil {
			l.redactor = BuiltinRedactor{}
		}
	} else {
		logger.Warn("audit redaction is off: secrets in arguments and results are written to the audit log")
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("seeding audit call IDs: %w", err)
	}
	l.idPrefix = hex.EncodeToString(b[:]) + "-"

	sync := opts.Sync.orDefault()
	var sinks []Sink
	fail := func(err error) (*Log, error) {
		for _, s := range sinks {
			s.Close()
		}
		return nil, err
	}
	if p := opts.SQLitePath(); p != "" {
		s, err := OpenSQLiteSink(ctx, p, sync, logger)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if p := opts.Sinks.JSONL; p != "" {
		s, err := OpenJSONLSink(p, sync, logger)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, s)
	}
	if opts.Sinks.OTel {
		if opts.TracerProvider == nil {
			return fail(fmt.Errorf("audit.sinks.otel is on but no OpenTelemetry tracer provider is configured"))
		}
		sinks = append(sinks, NewOTelSink(opts.TracerProvider))
	}
	sinks = append(sinks, opts.ExtraSinks...)
	if len(sinks) == 0 {
		return nil, fmt.Errorf("audit.sinks: every sink is off; turn one on (sqlite, jsonl or otel)")
	}
	for _, s := range sinks {
		l.sinks = append(l.sinks, &sinkState{Sink: s, log: logger, onError: l.onError})
		if h, ok := s.(interface{ Head() Head }); ok {
			logger.Info("audit log open", "sink", s.Name(), "head", h.Head().String(), "sync", sync, "on_error", l.onError)
		}
	}
	return l, nil
}

// Write stores r in every sink, queuing it on all chained sinks before
// waiting for any. It returns nil only if every sink stored it; otherwise
// a joined error naming each failed sink. Failures are counted and logged
// whatever the caller does with the error.
func (l *Log) Write(ctx context.Context, r *Record) error {
	if len(l.sinks) == 1 {
		s := l.sinks[0]
		return s.done(s.Write(ctx, r))
	}
	var small [4]*pending
	waits := small[:0]
	if len(l.sinks) > len(small) {
		waits = make([]*pending, 0, len(l.sinks))
	}
	var errs []error
	for _, s := range l.sinks {
		var p *pending
		var err error
		if c, ok := s.Sink.(chained); ok {
			p, err = c.committer().submit(ctx, r)
		} else {
			err = s.Write(ctx, r)
		}
		if err = s.doneIfFailed(err, p == nil); err != nil {
			errs = append(errs, err)
		}
		waits = append(waits, p)
	}
	for i, p := range waits {
		if p == nil {
			continue
		}
		s := l.sinks[i]
		_, err := s.Sink.(chained).committer().wait(ctx, p)
		if err = s.done(err); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Flush waits until every record written so far is where readers of
// each sink see it (the SQLite sink indexes its queue a moment after a
// write returns).
func (l *Log) Flush() error {
	var errs []error
	for _, s := range l.sinks {
		if f, ok := s.Sink.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("flushing %s: %w", s.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink, committing what is queued, and logs each
// chain head so that it can be kept as an anchor for audit verify --head.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		for _, s := range l.sinks {
			if err := s.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s: %w", s.Name(), err))
			}
			if h, ok := s.Sink.(interface{ Head() Head }); ok {
				l.log.Info("audit log closed", "sink", s.Name(), "head", h.Head().String())
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// SinkStats counts one sink's writes.
type SinkStats struct {
	Sink      string
	Written   uint64 // records stored
	Failed    uint64 // writes that returned an error
	Lost      uint64 // records acknowledged but then lost (sync: off only)
	Failing   bool   // whether the last write failed
	LastError string
	Head      Head // the chain head, for chained sinks: log it elsewhere as an anchor
}

// Stats returns per-sink counters, for metrics and health checks.
func (l *Log) Stats() []SinkStats {
	out := make([]SinkStats, 0, len(l.sinks))
	for _, s := range l.sinks {
		st := SinkStats{Sink: s.Name(), Written: s.written.Load(), Failed: s.failed.Load(), Failing: s.failing.Load()}
		if c, ok := s.Sink.(chained); ok {
			st.Lost = c.committer().lost.Load()
		}
		if h, ok := s.Sink.(interface{ Head() Head }); ok {
			st.Head = h.Head()
		}
		s.mu.Lock()
		st.LastError = s.lastErr
		s.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// Healthy reports whether the last write to every sink succeeded.
func (l *Log) Healthy() bool {
	for _, s := range l.sinks {
		if s.failing.Load() {
			return false
		}
	}
	return true
}

// sinkState counts a sink's results and reports failures loudly but at a
// bounded rate: the first failure at once, then a summary at most every
// failureReportEvery while the sink keeps failing, and the recovery.
type sinkState struct {
	Sink
	log     *slog.Logger
	onError ErrorPolicy

	written atomic.Uint64
	failed  atomic.Uint64
	failing atomic.Bool

	mu         sync.Mutex
	lastErr    string
	lastReport time.Time
	unreported uint64
}

const failureReportEvery = time.Second

// done records the result of a write and returns err wrapped with the
// sink name.
func (s *sinkState) done(err error) error {
	if err == nil {
		s.written.Add(1)
		if s.failing.Load() {
			s.recovered()
		}
		return nil
	}
	s.failed.Add(1)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller gave up (the client went away): the sink is not at
		// fault. The call is denied, and its decision record, written
		// without the caller's deadline, still carries the arguments.
		s.log.Warn("audit write abandoned by its caller", "sink", s.Name(), "err", err)
	} else {
		s.failing.Store(true)
		s.report(err)
	}
	return fmt.Errorf("audit sink %s: %w", s.Name(), err)
}

// doneIfFailed records err now if the write failed or finished (final);
// a queued write is recorded by done after its wait.
func (s *sinkState) doneIfFailed(err error, final bool) error {
	if err != nil || final {
		return s.done(err)
	}
	return nil
}

func (s *sinkState) report(err error) {
	now := time.Now()
	s.mu.Lock()
	s.lastErr = err.Error()
	s.unreported++
	if !s.lastReport.IsZero() && now.Sub(s.lastReport) < failureReportEvery {
		s.mu.Unlock()
		return
	}
	n := s.unreported
	s.unreported = 0
	s.lastReport = now
	s.mu.Unlock()
	consequence := "calls are DENIED while the sink fails (on_error: deny)"
	if s.onError == OnErrorAllow {
		consequence = "calls proceed UNAUDITED while the sink fails (on_error: allow)"
	}
	s.log.Error("AUDIT SINK FAILING: "+consequence, "sink", s.Name(), "failures", n, "failed_total", s.failed.Load(), "err", err)
}

func (s *sinkState) recovered() {
	s.mu.Lock()
	if !s.failing.Load() {
		s.mu.Unlock()
		return
	}
	s.failing.Store(false)
	n := s.unreported
	s.unreported = 0
	s.lastReport = time.Time{}
	s.mu.Unlock()
	s.log.Warn("audit sink recovered", "sink", s.Name(), "unreported_failures", n, "failed_total", s.failed.Load())
}
