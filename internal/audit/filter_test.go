package audit

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2025, 6, 10, 15, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"today", time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)},
		{"90s", now.Add(-90 * time.Second)},
		{"2h30m", now.Add(-150 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2w", now.AddDate(0, 0, -14)},
		{"2025-06-01", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-06-01T08:15", time.Date(2025, 6, 1, 8, 15, 0, 0, time.UTC)},
		{"2025-06-01 08:15:30", time.Date(2025, 6, 1, 8, 15, 30, 0, time.UTC)},
		{"2025-06-01T08:15:30.5+02:00", time.Date(2025, 6, 1, 6, 15, 30, 5e8, time.UTC)},
		{"@1748779200", time.Unix(1748779200, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "1.5d", "-1h", "1x", "2025-13-01", "@x", "@-1", "99999999999w", "876000h1s"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if got, err := ParseTime(bad, now); err == nil {
				t.Errorf("ParseTime(%q) = %v, want an error", bad, got)
			}
		})
	}
}

func TestParseTimeLocal(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	now := time.Date(2025, 6, 10, 15, 30, 0, 0, loc)
	got, err := ParseTime("2025-06-01 10:00", now)
	want := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	if err != nil || !got.Equal(want) {
		t.Errorf("ParseTime(zone-less) = %v, %v, want %v (read in now's zone)", got, err, want)
	}
}

func TestParseFilter(t *testing.T) {
	now := time.Date(2025, 6, 10, 15, 30, 0, 0, time.UTC)
	got, err := ParseFilter([]string{"caller=alice", "server=fs", "tool=read_file", "decision=DENY", "method=tools/call",
		"session=s1", "call_id=c1", "kind=decision", "rule=args.path_root", "since=1h", "until=now", "after=3", "limit=5"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Filter{Caller: "alice", Server: "fs", Tool: "read_file", Decision: Deny, Method: "tools/call", Session: "s1",
		CallID: "c1", Kind: KindDecision, Rule: "args.path_root", Since: now.Add(-time.Hour), Until: now, AfterSeq: 3, Limit: 5}
	if got != want {
		t.Errorf("ParseFilter = %+v, want %+v", got, want)
	}
	for _, tt := range []struct{ in, want string }{
		{"caller", "want key=value"},
		{"who=x", "unknown filter"},
		{"caller=", "empty value"},
		{"decision=maybe", "not allow, deny"},
		{"kind=note", "not request or decision"},
		{"limit=-1", "negative"},
		{"limit=x", "limit"},
		{"since=soon", "not a time"},
		{"caller=a caller=b", "twice"},
		{"since=1h until=2h", "not before until"},
		{"caller=a\x00b", "not valid text"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFilter(strings.Fields(tt.in), now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFilter(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestQuery runs the same filters against SQLite (SQL) and JSONL (Go
// matching) and checks both give the records a direct Match over all
// records gives.
func TestQuery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sq := openTestSQLite(t, filepath.Join(dir, "a.db"), SyncNormal)
	jl := openTestJSONL(t, filepath.Join(dir, "a.jsonl"), SyncNormal)
	var all []Record
	for i := 0; i < 60; i++ {
		r := testRecord(i)
		if i == 7 {
			r.Kind, r.Decision = KindDecision, Approve
			r.Decisions = []Decision{{Action: Approve, Rule: "approval.required"}, {Action: Rewrite, Rule: "dlp.redact"}}
		}
		if err := sq.Write(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if err := jl.Write(ctx, &r); err != nil {
			t.Fatal(err)
		}
		r.Seq = uint64(i + 1)
		all = append(all, r)
	}
	sq.Close()
	jl.Close()
	sources := map[string]Source{
		"sqlite": openReader(t, filepath.Join(dir, "a.db")),
		"jsonl":  openJSONLReader(t, filepath.Join(dir, "a.jsonl")),
	}
	filters := []Filter{
		{},
		{Caller: "alice"},
		{Server: "mail", Tool: "send_email"},
		{Decision: Deny},
		{Decision: Approve},
		{Decision: Allow, Caller: "bob"},
		{Rule: "args.path_root"},
		{Rule: "dlp.redact"},
		{Kind: KindRequest, Limit: 4},
		{Method: "tools/call", Session: "s-3"},
		{CallID: "c-9"},
		{Since: testTime.Add(10 * time.Millisecond), Until: testTime.Add(20 * time.Millisecond)},
		{AfterSeq: 55},
		{Caller: "nobody"},
	}
	for _, f := range filters {
		var want []uint64
		for i := range all {
			if f.Match(&all[i]) && (f.Limit == 0 || len(want) < f.Limit) {
				want = append(want, all[i].Seq)
			}
		}
		for name, src := range sources {
			t.Run(name, func(t *testing.T) {
				recs, err := Query(ctx, src, f)
				if err != nil {
					t.Fatal(err)
				}
				var got []uint64
				for _, r := range recs {
					got = append(got, r.Seq)
				}
				if !equalSeqs(got, want) {
					t.Errorf("Query(%+v) = seqs %v, want %v", f, got, want)
				}
			})
		}
	}
	if n := len(filters); n < 10 {
		t.Fatalf("only %d filters", n)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTail(t *testing.T) {
	for _, kind := range []string{"sqlite", "jsonl"} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			var sink Sink
			var src Source
			if kind == "sqlite" {
				s := openTestSQLite(t, filepath.Join(dir, "a.db"), SyncNormal)
				sink, src = s, openReader(t, filepath.Join(dir, "a.db"))
			} else {
				sink = openTestJSONL(t, filepath.Join(dir, "a.jsonl"), SyncNormal)
			}
			write := func(from, to int) {
				for i := from; i < to; i++ {
					r := testRecord(i)
					if err := sink.Write(ctx, &r); err != nil {
						t.Fatal(err)
					}
				}
				if f, ok := sink.(interface{ Flush() error }); ok {
					if err := f.Flush(); err != nil { // into the database, for the reader
						t.Fatal(err)
					}
				}
			}
			write(0, 12)
			if src == nil {
				src = openJSONLReader(t, filepath.Join(dir, "a.jsonl"))
			}
			got := make(chan uint64, 100)
			errc := make(chan error, 1)
			go func() {
				errc <- Tail(ctx, src, Filter{Caller: "alice"}, TailOptions{N: 2, Follow: true, Poll: time.Millisecond}, func(r *Record) error {
					got <- r.Seq
					return nil
				})
			}()
			// alice writes records 0, 3, 6, 9 (seqs 1, 4, 7, 10): the last two are 7 and 10.
			for _, want := range []uint64{7, 10} {
				if s := <-got; s != want {
					t.Fatalf("Tail gave seq %d, want %d", s, want)
				}
			}
			write(12, 20) // alice: 12, 15, 18 -> seqs 13, 16, 19
			for _, want := range []uint64{13, 16, 19} {
				select {
				case s := <-got:
					if s != want {
						t.Fatalf("Tail followed seq %d, want %d", s, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("Tail did not follow seq %d", want)
				}
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Tail after cancel = %v, want nil", err)
			}
		})
	}
}

func TestTailNoFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	writeJSONL(t, path, 10)
	var got []uint64
	err := Tail(context.Background(), openJSONLReader(t, path), Filter{}, TailOptions{N: 3}, func(r *Record) error {
		got = append(got, r.Seq)
		return nil
	})
	if err != nil || !equalSeqs(got, []uint64{8, 9, 10}) {
		t.Errorf("Tail(N=3) = %v, %v, want [8 9 10]", got, err)
	}
}
