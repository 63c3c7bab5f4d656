package audit

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestRoundTrip writes records with every field set, including text that
// stresses storage and encoding (NUL, invalid UTF-8, quotes, HTML, line
// separators), and reads back exactly what was hashed, from both sinks.
func TestRoundTrip(t *testing.T) {
	for _, kind := range []string{"sqlite", "jsonl"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "sub", "audit."+kind)
			var sink interface {
				Sink
				Append(context.Context, *Record) (uint64, error)
			}
			if kind == "sqlite" {
				sink = openTestSQLite(t, path, SyncFull)
			} else {
				sink = openTestJSONL(t, path, SyncFull)
			}
			want := []Record{testRecord(0), testRecord(1), testRecord(5)}
			want[0].Args = "nul\x00byte, bad \xff utf-8, 'quote' \"dq\" <html> & \u2028 日本"
			want[1].ArgsTruncated, want[1].ResultTruncated, want[1].Error = true, true, "upstream: EOF"
			for i := range want {
				// The SQLite sink seals as it indexes, so acknowledges seq 0.
				if seq, err := sink.Append(ctx, &want[i]); err != nil || (seq != uint64(i+1) && !(kind == "sqlite" && seq == 0)) {
					t.Fatalf("Append #%d = %d, %v, want seq %d", i, seq, err, i+1)
				}
			}
			if err := sink.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			open := func() Source {
				if kind == "sqlite" {
					return openReader(t, path)
				}
				return openJSONLReader(t, path)
			}
			got := readAll(t, open())
			if len(got) != len(want) {
				t.Fatalf("read %d records, want %d", len(got), len(want))
			}
			for i := range want {
				w := want[i]
				normalize(&w)
				w.Seq, w.PrevHash, w.Hash = got[i].Seq, got[i].PrevHash, got[i].Hash
				if !reflect.DeepEqual(got[i], w) {
					t.Errorf("record %d:\n got %+v\nwant %+v", i+1, got[i], w)
				}
			}
			if head, err := Verify(ctx, open(), Head{}); err != nil || head.Seq != 3 {
				t.Errorf("Verify = %v, %v, want head 3 and no error", head, err)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("file mode = %v (%v), want 0600", st.Mode().Perm(), err)
			}
			if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("directory mode = %v (%v), want 0700", st.Mode().Perm(), err)
			}
		})
	}
}
