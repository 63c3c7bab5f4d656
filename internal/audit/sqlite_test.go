package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func openTestSQLite(t *testing.T, path string, policy SyncPolicy) *SQLiteSink {
	t.Helper()
	s, err := OpenSQLiteSink(context.Background(), path, policy, nil)
	if err != nil {
		t.Fatalf("OpenSQLiteSink(%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readAll(t *testing.T, src Source) []Record {
	t.Helper()
	recs, err := Query(context.Background(), src, Filter{})
	if err != nil {
		t.Fatalf("Query = %v", err)
	}
	return recs
}

func openReader(t *testing.T, path string) *SQLiteReader {
	t.Helper()
	r, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLite(%s) = %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestSQLiteChainAcrossRestarts reopens the database several times; the
// chain must continue where it stopped.
func TestSQLiteChainAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	n := 0
	for round := 0; round < 3; round++ {
		s, err := OpenSQLiteSink(ctx, path, SyncNormal, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Head().Seq; got != uint64(n) {
			t.Errorf("round %d: head after open = %d, want %d", round, got, n)
		}
		for i := 0; i < 5; i++ {
			r := testRecord(n)
			if err := s.Write(ctx, &r); err != nil {
				t.Fatal(err)
			}
			n++
		}
		s.Close()
	}
	head, err := Verify(ctx, openReader(t, path), Head{})
	if err != nil || head.Seq != 15 {
		t.Errorf("Verify = %v, %v, want 15 records", head, err)
	}
}

// TestSQLiteConcurrentWriters has many goroutines write through one sink
// and two sinks (standing in for two processes) on the same file.
func TestSQLiteConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	a := openTestSQLite(t, path, SyncNormal)
	b := openTestSQLite(t, path, SyncNormal)
	var wg sync.WaitGroup
	seqs := make(chan uint64, 400)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if g%2 == 1 {
				s = b
			}
			for i := 0; i < 20; i++ {
				r := testRecord(g*100 + i)
				seq, err := s.Append(ctx, &r)
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	for s := range seqs {
		if s != 0 {
			t.Errorf("acknowledged at seq %d, want 0 (sealed when indexed)", s)
		}
	}
	for _, s := range []*SQLiteSink{a, b} {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Both "processes" sealed onto one chain, each record once.
	head, err := Verify(ctx, openReader(t, path), Head{})
	if err != nil || head.Seq != 400 {
		t.Errorf("Verify = %v, %v, want 400 records", head, err)
	}
	ids := map[string]int{}
	if _, err := openReader(t, path).Scan(ctx, Filter{}, func(r *Record) error { ids[r.CallID]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 400 {
		t.Errorf("%d distinct records, want 400", len(ids))
	}
}

func TestSQLiteRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenSQLiteSink(context.Background(), path, SyncNormal, nil); err == nil || !strings.Contains(err.Error(), "not an mcpwarden audit log") {
		t.Errorf("OpenSQLiteSink(foreign db) = %v, want a refusal", err)
	}
	if _, err := OpenSQLite(context.Background(), path); err == nil || !strings.Contains(err.Error(), "not an mcpwarden audit database") {
		t.Errorf("OpenSQLite(foreign db) = %v, want a refusal", err)
	}
}

func TestOpenSQLiteMissing(t *testing.T) {
	_, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "none.db"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenSQLite(missing) = %v, want fs.ErrNotExist", err)
	}
}

// TestSQLiteWriteFailure makes the database full: writes fail, the chain
// is not advanced by the failed batch, and writing resumes cleanly once
// there is room.
func TestSQLiteWriteFailure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openTestSQLite(t, path, SyncNormal)
	r := testRecord(1)
	if err := s.Write(ctx, &r); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.be.db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.be.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := testRecord(2)
	big.Args = strings.Repeat("x", 64<<10)
	// Queued, then refused by the database: later writes fail.
	if err := s.Write(ctx, &big); err != nil {
		t.Fatalf("Write into the queue = %v", err)
	}
	if err := s.Flush(); err == nil {
		t.Fatal("Flush into a full database = nil, want an error")
	}
	if err := s.Write(ctx, &big); err == nil {
		t.Fatal("Write while the database is full = nil, want an error")
	}
	if _, err := s.be.db.Exec("PRAGMA max_page_count = 1000000"); err != nil {
		t.Fatal(err)
	}
	// The queued record goes in once there is room, and writing resumes.
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after recovery = %v", err)
	}
	if err := s.Write(ctx, &big); err != nil {
		t.Errorf("Write after recovery = %v", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	head, err := Verify(ctx, openReader(t, path), Head{})
	if err != nil || head.Seq != 3 {
		t.Errorf("Verify = %v, %v, want 3 records", head, err)
	}
}

// TestSQLiteTamper changes the database behind the log's back, as an
// attacker with write access would, and checks Verify names the record.
func TestSQLiteTamper(t *testing.T) {
	tests := []struct {
		name    string
		sql     []string
		wantSeq uint64
		want    string
	}{
		{"update", []string{`UPDATE records SET args = '{"path":"/tmp/harmless"}' WHERE seq = 4`}, 4, "changed"},
		{"update decision", []string{`UPDATE records SET decision = 'allow' WHERE seq = 6`}, 6, "changed"},
		{"delete", []string{`DELETE FROM records WHERE seq = 5`}, 5, "missing"},
		{"delete first", []string{`DELETE FROM records WHERE seq = 1`}, 1, "missing"},
		{"swap", []string{
			`UPDATE records SET seq = -1 WHERE seq = 3`,
			`UPDATE records SET seq = 3 WHERE seq = 7`,
			`UPDATE records SET seq = 7 WHERE seq = -1`,
		}, 3, "changed"},
		{"insert replayed", []string{`INSERT INTO records SELECT 11, time_ns, kind, call_id, caller, auth_method, session, server, name, method, direction, request_id, revision, args, args_truncated, result, result_truncated, decision, decisions, latency_ns, error, prev_hash, hash FROM records WHERE seq = 2`}, 11, "changed"},
		{"insert far", []string{`INSERT INTO records SELECT 100, time_ns, kind, call_id, caller, auth_method, session, server, name, method, direction, request_id, revision, args, args_truncated, result, result_truncated, decision, decisions, latency_ns, error, prev_hash, hash FROM records WHERE seq = 2`}, 11, "missing"},
		{"negative seq", []string{`UPDATE records SET seq = -1 WHERE seq = 3`}, 0, "numbered -1"},
		{"bad type", []string{`UPDATE records SET decisions = '{' WHERE seq = 2`}, 2, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.db")
			s := openTestSQLite(t, path, SyncNormal)
			for i := 0; i < 10; i++ {
				r := testRecord(i)
				if err := s.Write(ctx, &r); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range tt.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			_, err = Verify(ctx, openReader(t, path), Head{})
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq || !strings.Contains(ce.Reason, tt.want) {
				t.Errorf("Verify = %v, want record %d ...%s...", ce, tt.wantSeq, tt.want)
			}
		})
	}
}
