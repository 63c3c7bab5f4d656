package calllog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/pipeline"
)

func TestFinishLogs(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		verdict pipeline.Verdict
		err     error
		want    []string
		none    bool
	}{
		{name: "ok", want: []string{"level=INFO", "method=tools/call", "outcome=ok", "server=fs", "name=read", "duration="}},
		{name: "denied", verdict: pipeline.DenyVerdict("args.path_root", "outside the jail"), want: []string{"level=WARN", "outcome=denied", "rule=args.path_root", `reason="outside the jail"`}},
		{name: "upstream error", err: errors.New("boom"), want: []string{"level=WARN", "outcome=error", "err=boom"}},
		{name: "quiet ok", opts: Options{Quiet: true}, none: true},
		{name: "params", opts: Options{Params: true, MaxParamBytes: 8}, want: []string{`params="{\"argume…"`}},
		{name: "params redacted", opts: Options{Params: true, Redactor: replacer{"/x", "[REDACTED:path]"}}, want: []string{`[REDACTED:path]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			l := New(tt.opts)
			c := &pipeline.Call{Method: "tools/call", Server: "fs", Name: "read", Direction: pipeline.ToServer, Start: time.Now(), Params: json.RawMessage(`{"arguments":{"path":"/x"}}`)}
			l.Finish(context.Background(), c, json.RawMessage(`{}`), tt.verdict, tt.err)
			out := buf.String()
			if tt.none {
				if out != "" {
					t.Errorf("quiet logger wrote %q", out)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("log %q lacks %q", out, w)
				}
			}
		})
	}
}

func TestNeverDenies(t *testing.T) {
	v, err := New(Options{}).Request(context.Background(), &pipeline.Call{})
	if err != nil || v.Deny {
		t.Errorf("Request = %+v, %v", v, err)
	}
}

func BenchmarkFinish(b *testing.B) {
	l := New(Options{Logger: slog.New(slog.NewTextHandler(discard{}, nil))})
	c := &pipeline.Call{Method: "tools/call", Server: "fs", Name: "read", Start: time.Now()}
	b.ReportAllocs()
	for range b.N {
		l.Finish(context.Background(), c, nil, pipeline.Allow, nil)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// replacer is a Redactor that replaces one string.
type replacer struct{ old, new string }

func (r replacer) Redact(s string) string { return strings.ReplaceAll(s, r.old, r.new) }
