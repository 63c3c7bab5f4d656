package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func queueFiles(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(queueDir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestQueueRotates writes enough through a small queue file that it is
// replaced several times: every record reaches the database once, in a
// chain that verifies, and only the live queue file is left.
func TestQueueRotates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openTestSQLite(t, path, SyncNormal)
	s.q.rotateAt = 4 << 10
	const n = 300
	for i := range n {
		r := testRecord(i)
		if err := s.Write(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	if files := queueFiles(t, path); len(files) != 1 {
		t.Errorf("queue files while open = %v, want only the live one", files)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files := queueFiles(t, path); len(files) != 0 {
		t.Errorf("queue files after Close = %v, want none", files)
	}
	head, err := Verify(ctx, openReader(t, path), Head{})
	if err != nil || head.Seq != n {
		t.Errorf("Verify = %v, %v, want %d records", head, err, n)
	}
}

// TestQueueOrphanTakenOver leaves a queue file behind as a killed process
// would (its lock released, its records not indexed), and checks that the
// next writer indexes it once and removes it, and leaves a live writer's
// queue alone.
func TestQueueOrphanTakenOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	live := openTestSQLite(t, path, SyncNormal)
	r := testRecord(1)
	if err := live.Write(ctx, &r); err != nil {
		t.Fatal(err)
	}

	// A second writer that "dies": its indexer never runs, and its queue
	// file is closed (releasing the lock) without being removed.
	dead, err := openSQLiteBackend(ctx, path, SyncNormal)
	if err != nil {
		t.Fatal(err)
	}
	q := &queuedBackend{db: dead, dir: queueDir(path), policy: SyncNormal, log: discard, rotateAt: queueRotate, work: make(chan queueItem, 16)}
	q.enc = NewJSONWriter(&q.buf)
	if err := q.newFile(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		rec := testRecord(10 + i)
		if err := q.commit([]*Record{&rec}); err != nil {
			t.Fatal(err)
		}
	}
	q.f.Close()
	dead.close()
	if files := queueFiles(t, path); len(files) != 2 {
		t.Fatalf("queue files = %v, want the live and the dead writer's", files)
	}

	next := openTestSQLite(t, path, SyncNormal)
	if files := queueFiles(t, path); len(files) != 2 {
		t.Errorf("queue files after the takeover = %v, want the live writer's and the new one's", files)
	}
	for _, s := range []*SQLiteSink{live, next} {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]int{}
	if _, err := openReader(t, path).Scan(ctx, Filter{}, func(r *Record) error { ids[r.CallID]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c-1", "c-10", "c-11", "c-12", "c-13", "c-14"} {
		if ids[id] != 1 {
			t.Errorf("record %s is in the database %d times, want once", id, ids[id])
		}
	}
	if _, err := Verify(ctx, openReader(t, path), Head{}); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// TestConcurrentOpens has several "processes" create, write and close one
// new log at the same time, repeatedly: opening never fails on another's
// queue file or on the schema, and every record lands once.
func TestConcurrentOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				s, err := OpenSQLiteSink(ctx, path, SyncNormal, nil)
				if err != nil {
					errs <- err
					return
				}
				r := testRecord(g*100 + i)
				r.CallID = fmt.Sprintf("g%d-%d", g, i)
				if err := s.Write(ctx, &r); err != nil {
					errs <- err
				}
				if err := s.Close(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	head, err := Verify(ctx, openReader(t, path), Head{})
	if err != nil || head.Seq != 32 {
		t.Errorf("Verify = %v, %v, want 32 records", head, err)
	}
}
