package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mcpwarden/internal/pipeline"
)

// memSink is a Sink that keeps records in memory and fails on demand.
type memSink struct {
	mu   sync.Mutex
	recs []Record
	fail error
}

func (m *memSink) Name() string { return "mem" }
func (m *memSink) Close() error { return nil }
func (m *memSink) Write(_ context.Context, r *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.recs = append(m.recs, *r)
	return nil
}

func (m *memSink) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

func (m *memSink) records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...)
}

// control is a configurable pipeline interceptor.
type control struct {
	name    string
	deny    *pipeline.Verdict
	err     error
	rewrite json.RawMessage
	mark    *Mark
	respond *pipeline.Verdict
}

func (c *control) Name() string { return c.name }
func (c *control) Request(_ context.Context, call *pipeline.Call) (pipeline.Verdict, error) {
	if c.mark != nil {
		call.Set(c.name+".decision", *c.mark)
	}
	if c.rewrite != nil {
		call.Params = c.rewrite
	}
	if c.err != nil {
		return pipeline.Allow, c.err
	}
	if c.deny != nil {
		return *c.deny, nil
	}
	return pipeline.Allow, nil
}

func (c *control) Response(_ context.Context, _ *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	if c.respond != nil {
		return nil, *c.respond, nil
	}
	return res, pipeline.Allow, nil
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestLog(t *testing.T, cfg Config, sinks ...Sink) (*Log, *logBuffer) {
	t.Helper()
	cfg.Sinks.SQLite = SQLiteOff
	var buf logBuffer
	clock := testTime
	var mu sync.Mutex
	l, err := New(context.Background(), Options{
		Config:     cfg,
		Logger:     slog.New(slog.NewTextHandler(&buf, nil)),
		ExtraSinks: sinks,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Millisecond)
			return clock
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, &buf
}

func testCall() *pipeline.Call {
	return &pipeline.Call{
		ID:        "7",
		Session:   "sess-1",
		Revision:  "2025-11-25",
		Caller:    pipeline.Identity{Subject: "alice", Method: "jwt"},
		Direction: pipeline.ToServer,
		Method:    "tools/call",
		Server:    "fs",
		Name:      "read_file",
		Params:    json.RawMessage(`{"name":"read_file","arguments":{"path":"/etc/passwd","token":"hunter2hunter2"}}`),
		Start:     testTime,
	}
}

// runCall drives one call through a chain the way the gateway does.
func runCall(ctx context.Context, ch *pipeline.Chain, c *pipeline.Call, upstream func() (json.RawMessage, error)) error {
	if err := ch.Request(ctx, c); err != nil {
		ch.Finish(ctx, c, nil, err)
		return err
	}
	res, err := upstream()
	if err == nil {
		res, err = ch.Response(ctx, c, res)
	}
	ch.Finish(ctx, c, res, err)
	return err
}

func okUpstream() (json.RawMessage, error) {
	return json.RawMessage(`{"content":[{"type":"text","text":"root:x:0:0"}]}`), nil
}

func TestInterceptorRecords(t *testing.T) {
	deny := pipeline.DenyVerdict("args.path_root", "path /etc/passwd is outside the allowed roots")
	tests := []struct {
		name      string
		before    []pipeline.Interceptor // placed before audit
		after     []pipeline.Interceptor
		upstream  func() (json.RawMessage, error)
		wantKinds []Kind
		check     func(t *testing.T, dec Record)
	}{
		{
			name:      "allowed",
			upstream:  okUpstream,
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				if dec.Decision != Allow || dec.Result == "" || dec.Args != "" || dec.Latency <= 0 || dec.Error != "" {
					t.Errorf("decision record = %+v, want allow with result and latency, args only on the request", dec)
				}
			},
		},
		{
			name:      "denied by a later control",
			after:     []pipeline.Interceptor{&control{name: "args", deny: &deny}},
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				want := []Decision{{Action: Deny, Rule: "args.path_root", Reason: deny.Reason, Control: "args"}}
				if dec.Decision != Deny || fmt.Sprint(dec.Decisions) != fmt.Sprint(want) || dec.Result != "" {
					t.Errorf("decision record = %+v, want %v", dec, want)
				}
			},
		},
		{
			name:      "denied before audit",
			before:    []pipeline.Interceptor{&control{name: "authz", deny: &deny}},
			wantKinds: []Kind{KindDecision},
			check: func(t *testing.T, dec Record) {
				if dec.Decision != Deny || !strings.Contains(dec.Args, "/etc/passwd") || dec.Decisions[0].Control != "authz" {
					t.Errorf("only record = %+v, want a denial carrying the arguments", dec)
				}
			},
		},
		{
			name:      "control failure",
			after:     []pipeline.Interceptor{&control{name: "schema", err: errors.New("compiling schema: bad $ref, key AKIAIOSFODNN7EXAMPLE")}},
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				if dec.Decision != Deny || dec.Decisions[0].Rule != pipeline.RuleControlError || !strings.Contains(dec.Error, "compiling schema") {
					t.Errorf("decision record = %+v, want a control-error denial with the cause", dec)
				}
				if strings.Contains(dec.Error, "AKIA") {
					t.Errorf("error %q was not redacted", dec.Error)
				}
			},
		},
		{
			name:      "upstream error",
			upstream:  func() (json.RawMessage, error) { return nil, errors.New("upstream fs: connection reset") },
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				if dec.Decision != Allow || dec.Error != "upstream fs: connection reset" {
					t.Errorf("decision record = %+v, want allow with the upstream error", dec)
				}
			},
		},
		{
			name:      "response denied",
			after:     []pipeline.Interceptor{&control{name: "output", respond: &pipeline.Verdict{Deny: true, Rule: "output.injection", Reason: "prompt injection in result"}}},
			upstream:  okUpstream,
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				if dec.Decision != Deny || dec.Decisions[0].Rule != "output.injection" || dec.Decisions[0].Control != "output" {
					t.Errorf("decision record = %+v, want the response denial", dec)
				}
			},
		},
		{
			name:      "rewritten and approved",
			after:     []pipeline.Interceptor{&control{name: "dlp", rewrite: json.RawMessage(`{"path":"[REDACTED]"}`), mark: &Mark{Rewrite, "dlp.secret", "redacted 1 secret"}}, &control{name: "approval", mark: &Mark{Approve, "approval.required", "approved by alice at the prompt"}}},
			upstream:  okUpstream,
			wantKinds: []Kind{KindRequest, KindDecision},
			check: func(t *testing.T, dec Record) {
				want := []Decision{
					{Action: Rewrite, Reason: "the arguments were rewritten before reaching the upstream"},
					{Action: Approve, Rule: "approval.required", Reason: "approved by alice at the prompt", Control: "approval"},
					{Action: Rewrite, Rule: "dlp.secret", Reason: "redacted 1 secret", Control: "dlp"},
				}
				if dec.Decision != Approve || fmt.Sprint(dec.Decisions) != fmt.Sprint(want) || dec.Args != `{"path":"[REDACTED]"}` {
					t.Errorf("decision record = %+v,\nwant decisions %v and the rewritten args", dec, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := &memSink{}
			l, _ := newTestLog(t, Config{}, mem)
			ch := pipeline.NewChain(append(append(tt.before, l), tt.after...)...)
			up := tt.upstream
			if up == nil {
				up = okUpstream
			}
			c := testCall()
			runCall(context.Background(), ch, c, up)
			recs := mem.records()
			var kinds []Kind
			for _, r := range recs {
				kinds = append(kinds, r.Kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tt.wantKinds) {
				t.Fatalf("record kinds = %v, want %v", kinds, tt.wantKinds)
			}
			for _, r := range recs {
				if r.CallID != recs[0].CallID || r.Caller != "alice" || r.AuthMethod != "jwt" || r.Session != "sess-1" ||
					r.Server != "fs" || r.Name != "read_file" || r.Method != "tools/call" || r.RequestID != "7" ||
					r.Revision != "2025-11-25" || r.Direction != "to_server" {
					t.Errorf("record %+v lacks the call's identification", r)
				}
			}
			if recs[0].Kind == KindRequest {
				if !strings.Contains(recs[0].Args, "/etc/passwd") || strings.Contains(recs[0].Args, "hunter2") {
					t.Errorf("request args = %q, want the arguments with the token redacted", recs[0].Args)
				}
			}
			tt.check(t, recs[len(recs)-1])
		})
	}
}

func TestInterceptorTruncates(t *testing.T) {
	mem := &memSink{}
	l, _ := newTestLog(t, Config{MaxArgBytes: 20, MaxResultBytes: -1}, mem)
	runCall(context.Background(), pipeline.NewChain(l), testCall(), okUpstream)
	recs := mem.records()
	if len(recs[0].Args) != 20 || !recs[0].ArgsTruncated {
		t.Errorf("request args = %q (truncated %v), want 20 bytes, truncated", recs[0].Args, recs[0].ArgsTruncated)
	}
	if recs[1].Result != "" || !recs[1].ResultTruncated {
		t.Errorf("result = %q (truncated %v), want none kept, truncated", recs[1].Result, recs[1].ResultTruncated)
	}
}

func TestInterceptorRedactionOff(t *testing.T) {
	mem := &memSink{}
	off := false
	l, logs := newTestLog(t, Config{Redact: &off}, mem)
	runCall(context.Background(), pipeline.NewChain(l), testCall(), okUpstream)
	if !strings.Contains(mem.records()[0].Args, "hunter2") {
		t.Errorf("args = %q, want them unredacted", mem.records()[0].Args)
	}
	if !strings.Contains(logs.String(), "redaction is off") {
		t.Errorf("log = %q, want a warning that redaction is off", logs.String())
	}
}

type upper struct{}

func (upper) Redact(s string) string { return strings.ReplaceAll(s, "passwd", "[X]") }

func TestInterceptorInjectedRedactor(t *testing.T) {
	mem := &memSink{}
	l, err := New(context.Background(), Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff}}, Redactor: upper{}, ExtraSinks: []Sink{mem}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	runCall(context.Background(), pipeline.NewChain(l), testCall(), okUpstream)
	if got := mem.records()[0].Args; !strings.Contains(got, "/etc/[X]") {
		t.Errorf("args = %q, want the injected redactor applied", got)
	}
}

// TestFailClosed makes the sink fail: the call is denied with
// audit.unavailable, the failure is counted and logged loudly, and calls
// flow again once the sink recovers.
func TestFailClosed(t *testing.T) {
	mem := &memSink{}
	l, logs := newTestLog(t, Config{}, mem)
	ch := pipeline.NewChain(l)
	mem.setFail(errors.New("disk I/O error"))
	called := false
	err := runCall(context.Background(), ch, testCall(), func() (json.RawMessage, error) { called = true; return okUpstream() })
	d, ok := pipeline.AsDenial(err)
	if !ok || d.Rule != RuleUnavailable || d.Interceptor != "audit" {
		t.Fatalf("call with a failing audit sink = %v, want a denial by audit with rule %s", err, RuleUnavailable)
	}
	if called {
		t.Error("the upstream was called although the request could not be recorded")
	}
	if strings.Contains(d.Reason, "disk") {
		t.Errorf("reason %q leaks the cause to the agent", d.Reason)
	}
	st := l.Stats()
	if st[0].Failed != 2 || !st[0].Failing || st[0].LastError != "disk I/O error" || l.Healthy() {
		t.Errorf("Stats = %+v, want 2 failures (request and decision), failing", st)
	}
	if !strings.Contains(logs.String(), "AUDIT SINK FAILING") || !strings.Contains(logs.String(), "DENIED") {
		t.Errorf("log = %q, want a loud failure report", logs.String())
	}
	mem.setFail(nil)
	if err := runCall(context.Background(), ch, testCall(), okUpstream); err != nil {
		t.Errorf("call after recovery = %v, want it allowed", err)
	}
	if !strings.Contains(logs.String(), "audit sink recovered") || !l.Healthy() {
		t.Errorf("log = %q, want the recovery reported", logs.String())
	}
}

func TestFailOpen(t *testing.T) {
	mem := &memSink{fail: errors.New("disk I/O error")}
	l, logs := newTestLog(t, Config{OnError: OnErrorAllow}, mem)
	if err := runCall(context.Background(), pipeline.NewChain(l), testCall(), okUpstream); err != nil {
		t.Fatalf("call with on_error: allow = %v, want it allowed", err)
	}
	if st := l.Stats(); st[0].Failed != 2 {
		t.Errorf("Stats = %+v, want the failures counted", st)
	}
	if !strings.Contains(logs.String(), "UNAUDITED") {
		t.Errorf("log = %q, want a loud report that calls are unaudited", logs.String())
	}
}

// TestFailClosedSQLite uses a real database that has run out of room.
func TestFailClosedSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	l, err := New(context.Background(), Options{Config: Config{Sinks: SinksConfig{SQLite: path}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := pipeline.NewChain(l)
	if err := runCall(context.Background(), ch, testCall(), okUpstream); err != nil {
		t.Fatal(err)
	}
	s := l.sinks[0].Sink.(*SQLiteSink)
	var pages int
	s.be.db.QueryRow("PRAGMA page_count").Scan(&pages)
	s.be.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages))
	c := testCall()
	c.Params = json.RawMessage(`{"blob":"` + strings.Repeat("x", 40000) + `"}`)
	// The call's records are safe in the sink's queue file; indexing them
	// fails, and from then on the log refuses records, so calls are denied.
	_ = runCall(context.Background(), ch, c, okUpstream)
	if err := s.Flush(); err == nil {
		t.Fatal("Flush into a full database = nil, want the indexing error")
	}
	err = runCall(context.Background(), ch, testCall(), okUpstream)
	if d, ok := pipeline.AsDenial(err); !ok || d.Rule != RuleUnavailable {
		t.Errorf("call with a full database = %v, want denied with %s", err, RuleUnavailable)
	}
}

func TestFinishRecordsAfterCancel(t *testing.T) {
	mem := &memSink{}
	l, _ := newTestLog(t, Config{}, mem)
	ch := pipeline.NewChain(l)
	ctx, cancel := context.WithCancel(context.Background())
	c := testCall()
	if err := ch.Request(ctx, c); err != nil {
		t.Fatal(err)
	}
	cancel()
	ch.Finish(ctx, c, nil, context.Canceled)
	if recs := mem.records(); len(recs) != 2 || recs[1].Error != "context canceled" {
		t.Errorf("records = %+v, want the decision record despite the cancelled context", recs)
	}
}

// TestLogFanOut writes through SQLite, JSONL and a failing sink at once.
func TestLogFanOut(t *testing.T) {
	dir := t.TempDir()
	bad := &memSink{fail: errors.New("broken")}
	l, err := New(context.Background(), Options{
		Config:     Config{Sinks: SinksConfig{SQLite: filepath.Join(dir, "a.db"), JSONL: filepath.Join(dir, "a.jsonl")}},
		ExtraSinks: []Sink{bad},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord(1)
	err = l.Write(context.Background(), &r)
	if err == nil || !strings.Contains(err.Error(), "audit sink mem: broken") {
		t.Errorf("Write = %v, want the failing sink named", err)
	}
	st := l.Stats()
	if st[0].Written != 1 || st[1].Written != 1 || st[2].Failed != 1 {
		t.Errorf("Stats = %+v, want SQLite and JSONL written, mem failed", st)
	}
	l.Close()
	for _, src := range []Source{openReader(t, filepath.Join(dir, "a.db")), openJSONLReader(t, filepath.Join(dir, "a.jsonl"))} {
		if head, err := Verify(context.Background(), src, Head{}); err != nil || head.Seq != 1 {
			t.Errorf("Verify = %v, %v, want 1 record", head, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no sinks", Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff}}}, "every sink is off"},
		{"otel without provider", Options{Config: Config{Sinks: SinksConfig{SQLite: SQLiteOff, OTel: true}}}, "no OpenTelemetry tracer provider"},
		{"unopenable", Options{Config: Config{Sinks: SinksConfig{SQLite: filepath.Join(dir, "f", "a.db")}}}, "audit"},
	}
	if err := writeFile(filepath.Join(dir, "f"), "not a directory"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(context.Background(), tt.opts)
			if err == nil {
				l.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRequestCancelled: a caller that has gone away is denied, the sink is
// not reported as failing, and the decision record still has the args.
func TestRequestCancelled(t *testing.T) {
	dir := t.TempDir()
	l, err := New(context.Background(), Options{Config: Config{Sinks: SinksConfig{SQLite: filepath.Join(dir, "a.db")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ch := pipeline.NewChain(l)
	c := testCall()
	err = ch.Request(ctx, c)
	if err == nil {
		// The record may have been queued before the cancellation was
		// seen; then the call is allowed and recorded, which is also fine.
		ch.Finish(ctx, c, nil, nil)
	} else {
		ch.Finish(ctx, c, nil, err)
		if !l.Healthy() {
			t.Errorf("a cancelled caller marked the sink failing: %+v", l.Stats())
		}
	}
	l.Close()
	recs := readAll(t, openReader(t, filepath.Join(dir, "a.db")))
	last := recs[len(recs)-1]
	if last.Kind != KindDecision || !strings.Contains(strings.Join([]string{recs[0].Args, last.Args}, " "), "/etc/passwd") {
		t.Errorf("records = %+v, want a decision record and the arguments on record", recs)
	}
}
