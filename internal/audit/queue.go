package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The SQLite sink does not make callers wait for SQLite. A SQLite commit
// costs tens of microseconds (two per call: the request and the decision),
// which is most of what the whole pipeline may add to a call. Instead a
// batch is durable, under the sync policy, once it is appended to this
// process's queue file, as cheap as the JSONL sink; an indexer goroutine
// moves queued records into the database, where they are sealed onto the
// chain (under the database's write lock, so several processes can share
// one log), in larger transactions a moment later.
//
// Each queue file's indexed offset is stored in the database in the same
// transaction as its records, so whoever opens the database after a crash
// indexes exactly what was left, once. A queue file is locked (flock) by
// its process while it lives; an unlocked one belongs to a process that
// died, and the next writer to open the database takes it over.

// queueRotate is the size at which a queue file, once indexed, is
// replaced by an empty one.
const queueRotate = 8 << 20

// indexLinger is how long the indexer waits for more records before a
// transaction: batching cuts the SQLite cost per record several times,
// and it delays only when records become visible to queries.
const indexLinger = 2 * time.Millisecond

// indexBatch bounds one index transaction.
const indexBatch = 1024

type queuedBackend struct {
	db     *sqliteBackend
	dir    string
	policy SyncPolicy
	log    *slog.Logger

	rotateAt int64 // queueRotate, smaller in tests

	f      *os.File // this process's queue file, locked
	name   string   // its base name: the key in the queues table
	size   int64    // bytes of complete lines
	buf    bytes.Buffer
	enc    *JSONWriter
	broken error

	work    chan queueItem
	done    chan struct{}         // closed when the indexer has returned
	failing atomic.Pointer[error] // the indexer's last error, until it succeeds again
	// unindexed is set by the indexer when records were left in the
	// queue file at close.
	unindexed bool
}

// queueItem is a batch for the indexer, or (with flush set) a request to
// say when everything before it is indexed.
type queueItem struct {
	recs  []Record
	file  string
	end   int64 // the queue file's size after recs
	flush chan error
}

func queueDir(path string) string { return path + ".queue" }

func openQueuedBackend(ctx context.Context, db *sqliteBackend, path string, policy SyncPolicy, log *slog.Logger) (*queuedBackend, error) {
	b := &queuedBackend{db: db, dir: queueDir(path), policy: policy, log: log, rotateAt: queueRotate, work: make(chan queueItem, 4096), done: make(chan struct{})}
	b.enc = NewJSONWriter(&b.buf)
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit queue directory: %w", err)
	}
	if err := recoverQueues(ctx, db, b.dir, log); err != nil {
		return nil, err
	}
	if err := b.newFile(); err != nil {
		return nil, err
	}
	go b.index()
	return b, nil
}

// newFile starts a fresh queue file for this process and registers it,
// replacing the current one (whose records must all be indexed).
func (b *queuedBackend) newFile() error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("%d-%s.jsonl", os.Getpid(), hex.EncodeToString(rnd[:]))
	path := filepath.Join(b.dir, name)
	// Created under a name recovery ignores, and locked, before it gets
	// its real name: another process's recovery must never see it
	// unlocked.
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating an audit queue file: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		os.Remove(path)
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fail(fmt.Errorf("locking audit queue file %s: %w", path, err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("naming audit queue file %s: %w", path, err))
	}
	if b.policy == SyncFull {
		// The new name must survive a power loss before the database
		// points at it.
		if err := syncDir(b.dir); err != nil {
			return fail(err)
		}
	}
	// Registered before anything is written to it, so a file with no row
	// is always one with nothing left to index; the old file's row goes
	// in the same transaction.
	old := b.name
	if err := b.db.setQueue(name, 0, old); err != nil {
		return fail(err)
	}
	if b.f != nil {
		b.f.Close()
		os.Remove(filepath.Join(b.dir, old))
	}
	b.f, b.name, b.size = f, name, 0
	return nil
}

func (b *queuedBackend) commit(batch []*Record) error {
	if b.broken != nil {
		return b.broken
	}
	if e := b.failing.Load(); e != nil {
		// Fail closed, as a sink that cannot write does: records would
		// only pile up where no query sees them.
		return fmt.Errorf("the audit database cannot take records: %w", *e)
	}
	b.buf.Reset()
	for _, r := range batch {
		if err := b.enc.Write(r); err != nil {
			return fmt.Errorf("encoding an audit record: %w", err)
		}
	}
	n, err := b.f.Write(b.buf.Bytes())
	if err != nil {
		if terr := b.f.Truncate(b.size); terr != nil {
			b.broken = fmt.Errorf("audit queue %s is damaged: a write failed (%v) and could not be undone: %w", b.path(), err, terr)
		}
		return fmt.Errorf("writing %d audit records to %s: %w", len(batch), b.path(), err)
	}
	if b.policy == SyncFull {
		if err := b.f.Sync(); err != nil {
			b.broken = fmt.Errorf("audit queue %s: fsync failed, reopen the log to continue: %w", b.path(), err)
			return b.broken
		}
	}
	b.size += int64(n)
	recs := make([]Record, len(batch))
	for i, r := range batch {
		recs[i] = *r // the committer reuses its records once commit returns
	}
	b.work <- queueItem{recs: recs, file: b.name, end: b.size}
	if b.size >= b.rotateAt {
		// Rare: the committer waits for the indexer to catch up once per
		// queueRotate bytes.
		if err := b.flush(); err != nil {
			b.log.Warn("audit queue not rotated: indexing is behind", "err", err)
			return nil
		}
		if err := b.newFile(); err != nil {
			b.log.Warn("audit queue not rotated", "err", err)
		}
	}
	return nil
}

// flush waits until everything committed so far is in the database.
func (b *queuedBackend) flush() error {
	ch := make(chan error, 1)
	b.work <- queueItem{flush: ch}
	return <-ch
}

// indexState is what the indexer holds between transactions.
type indexState struct {
	recs    []*Record // taken, not yet in the database
	file    string
	end     int64
	flushes []chan error
	lastErr error
}

// retryEvery is how often a failed index transaction is retried.
const retryEvery = 100 * time.Millisecond

// index moves queued records into the database until work is closed.
func (b *queuedBackend) index() {
	defer close(b.done)
	var st indexState
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		var it queueItem
		ok := true
		if len(st.recs) > 0 {
			// A transaction failed: retry it, unless more work comes first.
			select {
			case it, ok = <-b.work:
			case <-retry.C:
				b.tryCommit(&st)
				if len(st.recs) > 0 {
					retry.Reset(retryEvery)
				}
				continue
			}
		} else {
			it, ok = <-b.work
		}
		if ok {
			b.take(&st, it)
			if len(st.flushes) == 0 {
				// Sleep rather than wait on the channel: a writer's send then
				// wakes nobody, which on a busy machine costs the calls
				// more than the transaction does.
				time.Sleep(indexLinger)
			}
		collect:
			for len(st.recs) < indexBatch {
				select {
				case it, ok = <-b.work:
					if !ok {
						break collect
					}
					b.take(&st, it)
				default:
					break collect
				}
			}
		}
		if !ok {
			b.finalCommit(&st)
			return
		}
		b.tryCommit(&st)
		if len(st.recs) > 0 {
			retry.Reset(retryEvery)
		}
	}
}

func (b *queuedBackend) take(st *indexState, it queueItem) {
	if it.flush != nil {
		st.flushes = append(st.flushes, it.flush)
		return
	}
	if it.file != st.file && len(st.recs) > 0 {
		b.tryCommit(st) // one queue file's offset per transaction
	}
	for i := range it.recs {
		st.recs = append(st.recs, &it.recs[i])
	}
	st.file, st.end = it.file, it.end
}

// tryCommit indexes what st holds, once. On failure the records stay in
// st (they are safe in the queue file), writers are refused until a
// retry succeeds, and flushes are answered with the error.
func (b *queuedBackend) tryCommit(st *indexState) {
	var err error
	if len(st.recs) > 0 {
		err = b.db.commitQueued(st.recs, st.file, st.end)
	}
	if err == nil {
		st.recs = st.recs[:0]
		if st.lastErr != nil {
			b.log.Warn("audit indexing recovered")
			st.lastErr = nil
			b.failing.Store(nil)
		}
	} else {
		if st.lastErr == nil {
			// Another process holding the write lock for long, or a full
			// disk, is the usual cause.
			b.log.Error("audit records are queued but could not be indexed; refusing new records until they are", "records", len(st.recs), "err", err)
		}
		st.lastErr = err
		b.failing.Store(&err)
	}
	for _, ch := range st.flushes {
		ch <- err
	}
	st.flushes = st.flushes[:0]
}

// finalCommit indexes what is left when the log closes, with a few
// retries. What still fails stays in the queue file, for the next open.
func (b *queuedBackend) finalCommit(st *indexState) {
	for i := 0; ; i++ {
		b.tryCommit(st)
		if len(st.recs) == 0 {
			return
		}
		if i == 2 {
			b.unindexed = true
			b.log.Error("audit records remain queued; they are indexed when the log is next opened", "records", len(st.recs), "file", filepath.Join(b.dir, st.file), "err", st.lastErr)
			return
		}
		time.Sleep(retryEvery)
	}
}

func (b *queuedBackend) head() Head { return b.db.head() }

// close indexes what is queued and removes this process's queue file.
func (b *queuedBackend) close() error {
	close(b.work)
	<-b.done
	var errs []error
	if b.broken == nil && !b.unindexed {
		if err := b.db.dropQueue(b.name); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, os.Remove(b.path()))
		}
	}
	errs = append(errs, b.f.Close(), b.db.close())
	return errors.Join(errs...)
}

// recoverQueues indexes what stopped writers left in the queue files in
// dir (none if dir does not exist).
func recoverQueues(ctx context.Context, db *sqliteBackend, dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the audit queue directory: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		if err := recoverFile(ctx, db, dir, e.Name(), log); err != nil {
			return err
		}
	}
	return nil
}

func recoverFile(ctx context.Context, db *sqliteBackend, dir, name string, log *slog.Logger) error {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its writer closed it, or another process recovered it
	}
	if err != nil {
		return fmt.Errorf("opening audit queue file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // a live process's queue
		}
		return fmt.Errorf("locking audit queue file %s: %w", path, err)
	}
	offset, found, err := db.queueOffset(ctx, name)
	if err != nil {
		return err
	}
	if !found {
		// Never registered (its process died before writing) or already
		// indexed and replaced, perhaps by another process that is about
		// to remove it.
		return removeQueue(path)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("reading audit queue file %s: %w", path, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var recs []Record
	pos, line := offset, 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		ptrs := make([]*Record, len(recs))
		for i := range recs {
			ptrs[i] = &recs[i]
		}
		if err := db.commitQueued(ptrs, name, pos); err != nil {
			return fmt.Errorf("indexing audit queue file %s: %w", path, err)
		}
		recs = recs[:0]
		return nil
	}
	n := 0
	for {
		data, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A last line without its newline was never acknowledged: its
			// write did not complete.
			break
		}
		if err != nil {
			return fmt.Errorf("reading audit queue file %s: %w", path, err)
		}
		line++
		r, derr := DecodeRecord(bytes.TrimSuffix(data, []byte("\n")))
		if derr != nil {
			return fmt.Errorf("audit queue file %s, line %d after offset %d, cannot be decoded (%v); its records are not in the database yet: repair or move the file aside, then start again", path, line, offset, derr)
		}
		recs = append(recs, r)
		pos += int64(len(data))
		n++
		if len(recs) == indexBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if n > 0 {
		log.Warn("indexed audit records a stopped process had queued", "file", path, "records", n)
	}
	if err := db.dropQueue(name); err != nil {
		return err
	}
	return removeQueue(path)
}

func removeQueue(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing audit queue file: %w", err)
	}
	return nil
}

// queuesSchema holds each queue file's indexed offset (schema version 2).
const queuesSchema = `CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, indexed INTEGER NOT NULL) STRICT;`

// commitQueued inserts records from queue file name, indexed up to end,
// and records end, in one transaction.
func (b *sqliteBackend) commitQueued(batch []*Record, name string, end int64) error {
	return b.commitWith(batch, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO queues (name, indexed) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET indexed = excluded.indexed", name, end)
		return err
	})
}

// setQueue registers queue file name at offset 0, and drops old (if any)
// in the same transaction.
func (b *sqliteBackend) setQueue(name string, offset int64, old string) error {
	return b.commitWith(nil, func(ctx context.Context, tx *sql.Tx) error {
		if old != "" {
			if _, err := tx.ExecContext(ctx, "DELETE FROM queues WHERE name = ?", old); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO queues (name, indexed) VALUES (?, ?)", name, offset)
		return err
	})
}

func (b *sqliteBackend) dropQueue(name string) error {
	if _, err := b.db.Exec("DELETE FROM queues WHERE name = ?", name); err != nil {
		return fmt.Errorf("dropping audit queue %s: %w", name, err)
	}
	return nil
}

func (b *sqliteBackend) queueOffset(ctx context.Context, name string) (int64, bool, error) {
	var off int64
	err := b.db.QueryRowContext(ctx, "SELECT indexed FROM queues WHERE name = ?", name).Scan(&off)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading audit queue offsets: %w", err)
	}
	return off, true, nil
}

// StoppedQueues returns the queue files next to the database at path that
// no live process holds: records a writer queued before it was killed,
// not yet in the database (the next writer to open it indexes them). It
// only probes the locks, and takes nothing over.
func StoppedQueues(path string) ([]string, error) {
	dir := queueDir(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the audit queue directory: %w", err)
	}
	var stopped []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue // removed meanwhile by its writer
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil {
			stopped = append(stopped, p)
		}
		f.Close()
	}
	return stopped, nil
}

// path is this process's current queue file.
func (b *queuedBackend) path() string { return filepath.Join(b.dir, b.name) }
