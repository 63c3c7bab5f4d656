package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// schemaVersion is stored in PRAGMA user_version. A database with a newer
// version was written by a newer mcpwarden and is not touched.
const schemaVersion = 2 // 2 added the queues table

// applicationID marks a SQLite file as an mcpwarden audit log ("mcpw").
const applicationID = 0x6d637077

// schema is the audit table. Indexes are few on purpose: each one costs a
// page write in every commit, which is most of a commit's time. Time ranges
// and callers are indexed; denials have a partial index, so allowed calls
// do not pay for it; other filters scan within the time range.
const schema = `
CREATE TABLE IF NOT EXISTS records (
	seq              INTEGER PRIMARY KEY,
	time_ns          INTEGER NOT NULL,
	kind             TEXT NOT NULL,
	call_id          TEXT NOT NULL,
	caller           TEXT NOT NULL,
	auth_method      TEXT NOT NULL,
	session          TEXT NOT NULL,
	server           TEXT NOT NULL,
	name             TEXT NOT NULL,
	method           TEXT NOT NULL,
	direction        TEXT NOT NULL,
	request_id       TEXT NOT NULL,
	revision         TEXT NOT NULL,
	args             TEXT NOT NULL,
	args_truncated   INTEGER NOT NULL,
	result           TEXT NOT NULL,
	result_truncated INTEGER NOT NULL,
	decision         TEXT NOT NULL,
	decisions        TEXT NOT NULL,
	latency_ns       INTEGER NOT NULL,
	error            TEXT NOT NULL,
	prev_hash        TEXT NOT NULL,
	hash             TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS records_time ON records (time_ns);
CREATE INDEX IF NOT EXISTS records_caller ON records (caller, time_ns);
CREATE INDEX IF NOT EXISTS records_denied ON records (time_ns) WHERE decision = 'deny';
`

const columns = `seq, time_ns, kind, call_id, caller, auth_method, session, server, name, method, direction,
	request_id, revision, args, args_truncated, result, result_truncated, decision, decisions, latency_ns,
	error, prev_hash, hash`

// insertSQL returns an INSERT of n rows. Batches are inserted insertRows
// at a time: one statement per row costs more in the driver than in SQLite.
func insertSQL(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO records (" + columns + ") VALUES " + strings.Repeat(row+", ", n-1) + row
}

const (
	insertRows = 16
	numColumns = 23
)

// sqliteDSN builds a SQLite URI for path with the driver parameters in
// params. A file: URI with the path escaped keeps '?' and '#' in file
// names from being read as parameters.
func sqliteDSN(path string, params ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", path, err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	return u.String() + "?" + strings.Join(params, "&"), nil
}

// SQLiteSink stores records in a SQLite database in WAL mode, the default
// sink. Writes from any number of goroutines are group-committed (see the
// package doc), and the chain continues across restarts and across
// processes writing the same file: each commit reads the chain head inside
// its write transaction.
type SQLiteSink struct {
	chainSink
	be *sqliteBackend
	q  *queuedBackend // nil with sync: off
}

var _ Sink = (*SQLiteSink)(nil)

// OpenSQLiteSink opens (creating if needed) the database at path. Its
// directory is created with mode 0700 and the file with 0600: the log
// holds call arguments.
func OpenSQLiteSink(ctx context.Context, path string, sync SyncPolicy, log *slog.Logger) (*SQLiteSink, error) {
	be, err := openSQLiteBackend(ctx, path, sync)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = discard
	}
	if sync.orDefault() == SyncOff {
		// Writes do not wait anyway: straight into the database. Others'
		// queues left by a crash are still indexed.
		if err := recoverQueues(ctx, be, queueDir(path), log); err != nil {
			be.close()
			return nil, err
		}
		return &SQLiteSink{chainSink: newChainSink("sqlite:"+path, be, sync, log), be: be}, nil
	}
	q, err := openQueuedBackend(ctx, be, path, sync.orDefault(), log)
	if err != nil {
		be.close()
		return nil, err
	}
	return &SQLiteSink{chainSink: newChainSink("sqlite:"+path, q, sync, log), be: be, q: q}, nil
}

// Flush waits until every record written so far is in the database,
// where readers see it.
func (s *SQLiteSink) Flush() error {
	if s.q == nil {
		return nil
	}
	return s.c.flushVia(s.q.flush)
}

type sqliteBackend struct {
	db   *sql.DB
	ins1 *sql.Stmt // one row
	insN *sql.Stmt // insertRows rows
	args []any
	s    sealer

	mu sync.Mutex
	h  Head
}

func openSQLiteBackend(ctx context.Context, path string, policy SyncPolicy) (*sqliteBackend, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit directory: %w", err)
	}
	// Create the file ourselves so its mode is 0600 whatever the umask.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit database: %w", err)
	}
	f.Close()
	syncMode := map[SyncPolicy]string{SyncFull: "FULL", SyncNormal: "NORMAL", SyncOff: "OFF"}[policy.orDefault()]
	dsn, err := sqliteDSN(path,
		"_busy_timeout=10000",
		"_journal_mode=WAL",
		"_synchronous="+syncMode,
		"_txlock=immediate",
		// Statement journals of the multi-row inserts stay in memory
		// instead of costing a temp-file write per page.
		"_pragma=temp_store(MEMORY)",
		// Index pages stay cached as the log grows (32 MiB).
		"_pragma=cache_size(-32768)",
	)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening audit database %s: %w", path, err)
	}
	// One connection: commits are serialized by the committer anyway, and
	// the pragmas above are per connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	be := &sqliteBackend{db: db}
	// Processes opening a new log at the same moment can find it busy in
	// ways the busy timeout does not cover (one switching the fresh file
	// to WAL while another opens it): try again for a while.
	for attempt := 0; ; attempt++ {
		err := be.init(ctx, path)
		if err == nil {
			return be, nil
		}
		if !strings.Contains(err.Error(), "SQLITE_BUSY") || attempt == 50 || ctx.Err() != nil {
			db.Close()
			return nil, err
		}
		time.Sleep(time.Duration(10+attempt*10) * time.Millisecond)
	}
}

func (b *sqliteBackend) init(ctx context.Context, path string) error {
	var appID, version int
	if err := b.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return fmt.Errorf("reading audit database %s: %w", path, err)
	}
	if err := b.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("reading audit database %s: %w", path, err)
	}
	switch {
	case appID == 0 && version == 0:
		created, err := b.create(ctx, path)
		if err != nil {
			return err
		}
		if !created {
			return b.init(ctx, path) // another process created it first
		}
	case appID != applicationID:
		return fmt.Errorf("%s is a SQLite database but not an mcpwarden audit log; refusing to write to it", path)
	case version > schemaVersion:
		return fmt.Errorf("%s has audit schema version %d, newer than this mcpwarden's %d; upgrade mcpwarden", path, version, schemaVersion)
	case version < schemaVersion:
		if _, err := b.db.ExecContext(ctx, fmt.Sprintf("%s PRAGMA user_version = %d;", queuesSchema, schemaVersion)); err != nil {
			return fmt.Errorf("upgrading the audit schema in %s: %w", path, err)
		}
	}
	var mode string
	if err := b.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("audit database %s is not in WAL mode (journal_mode %q): %v", path, mode, err)
	}
	var err error
	if b.ins1, err = b.db.PrepareContext(ctx, insertSQL(1)); err != nil {
		return fmt.Errorf("preparing the audit insert: %w", err)
	}
	if b.insN, err = b.db.PrepareContext(ctx, insertSQL(insertRows)); err != nil {
		return fmt.Errorf("preparing the audit insert: %w", err)
	}
	h, err := readHead(ctx, b.db)
	if err != nil {
		return fmt.Errorf("reading the chain head of %s: %w", path, err)
	}
	b.h = h
	return nil
}

// create makes the schema in an empty database, under the write lock so
// that processes opening a new log at once do not race. It reports false
// if another process created the schema first.
func (b *sqliteBackend) create(ctx context.Context, path string) (bool, error) {
	tx, err := b.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see the DSN)
	if err != nil {
		return false, fmt.Errorf("creating the audit schema in %s: %w", path, err)
	}
	defer tx.Rollback()
	var appID, tables int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return false, fmt.Errorf("reading audit database %s: %w", path, err)
	}
	if appID != 0 {
		return false, nil
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return false, fmt.Errorf("reading audit database %s: %w", path, err)
	}
	if tables > 0 {
		return false, fmt.Errorf("%s is a SQLite database but not an mcpwarden audit log; refusing to write to it", path)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("%s %s PRAGMA application_id = %d; PRAGMA user_version = %d;", schema, queuesSchema, applicationID, schemaVersion)); err != nil {
		return false, fmt.Errorf("creating the audit schema in %s: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("creating the audit schema in %s: %w", path, err)
	}
	return true, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readHead(ctx context.Context, q queryer) (Head, error) {
	var h Head
	err := q.QueryRowContext(ctx, "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	return h, err
}

func (b *sqliteBackend) commit(batch []*Record) error { return b.commitWith(batch, nil) }

// commitWith seals and inserts batch, and runs also (if set) in the same
// transaction.
func (b *sqliteBackend) commitWith(batch []*Record, also func(context.Context, *sql.Tx) error) error {
	// No deadline: a cancellable context costs a goroutine per statement in
	// database/sql and the driver, a third of a commit. Waiting for
	// another process's write lock is bounded by the busy timeout.
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning audit transaction: %w", err)
	}
	defer tx.Rollback()
	// Another process may have appended since our last commit: chain onto
	// whatever the database holds now, under the write lock.
	h, err := readHead(ctx, tx)
	if err != nil {
		return fmt.Errorf("reading the chain head: %w", err)
	}
	var one, many *sql.Stmt
	for len(batch) > 0 {
		n := 1
		stmt := one
		if len(batch) >= insertRows {
			n = insertRows
			if many == nil {
				many = tx.StmtContext(ctx, b.insN)
			}
			stmt = many
		} else if one == nil {
			one = tx.StmtContext(ctx, b.ins1)
			stmt = one
		}
		b.args = b.args[:0]
		for _, r := range batch[:n] {
			h = b.s.seal(h, r)
			decisions, err := encodeDecisions(r.Decisions)
			if err != nil {
				return err
			}
			b.args = append(b.args, r.Seq, r.Time.UnixNano(), string(r.Kind), r.CallID, r.Caller, r.AuthMethod,
				r.Session, r.Server, r.Name, r.Method, r.Direction, r.RequestID, r.Revision, r.Args, r.ArgsTruncated,
				r.Result, r.ResultTruncated, string(r.Decision), decisions, int64(r.Latency), r.Error, r.PrevHash, r.Hash)
		}
		if _, err := stmt.ExecContext(ctx, b.args...); err != nil {
			return fmt.Errorf("inserting audit records %d to %d: %w", batch[0].Seq, batch[n-1].Seq, err)
		}
		batch = batch[n:]
	}
	if also != nil {
		if err := also(ctx, tx); err != nil {
			return fmt.Errorf("recording audit queue progress: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing %d audit records: %w", len(batch), err)
	}
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
	return nil
}

func (b *sqliteBackend) head() Head {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.h
}

func (b *sqliteBackend) close() error {
	b.ins1.Close()
	b.insN.Close()
	return b.db.Close()
}

func encodeDecisions(ds []Decision) (string, error) {
	if len(ds) == 0 {
		return "", nil
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return "", fmt.Errorf("encoding decisions: %w", err)
	}
	return string(b), nil
}

// SQLiteReader reads an audit database without writing to it. It is safe
// to use while a gateway is writing the same file.
type SQLiteReader struct {
	db   *sql.DB
	path string
}

var _ Source = (*SQLiteReader)(nil)

// OpenSQLite opens the audit database at path for reading. A missing file
// is reported as an error wrapping [fs.ErrNotExist].
func OpenSQLite(ctx context.Context, path string) (*SQLiteReader, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no audit database at %s: %w", path, err)
		}
		return nil, fmt.Errorf("opening audit database: %w", err)
	}
	dsn, err := sqliteDSN(path, "mode=ro", "_busy_timeout=10000", "_query_only=1")
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening audit database %s: %w", path, err)
	}
	var appID int
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading audit database %s: %w", path, err)
	}
	if appID != applicationID {
		db.Close()
		return nil, fmt.Errorf("%s is not an mcpwarden audit database", path)
	}
	return &SQLiteReader{db: db, path: path}, nil
}

// Close closes the database.
func (r *SQLiteReader) Close() error { return r.db.Close() }

// where renders f as a SQL condition and its arguments.
func (f *Filter) where() (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	eq("caller", f.Caller)
	eq("server", f.Server)
	eq("name", f.Tool)
	eq("method", f.Method)
	eq("session", f.Session)
	eq("call_id", f.CallID)
	eq("kind", string(f.Kind))
	switch f.Decision {
	case "":
	case Deny:
		// A denial anywhere makes the summary a denial; the literal lets
		// the planner use the partial index.
		conds = append(conds, "decision = 'deny'")
	default:
		conds = append(conds, "(decision = ? OR EXISTS (SELECT 1 FROM json_each(CASE decisions WHEN '' THEN '[]' ELSE decisions END) WHERE json_extract(value, '$.action') = ?))")
		args = append(args, string(f.Decision), string(f.Decision))
	}
	if f.Rule != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM json_each(CASE decisions WHEN '' THEN '[]' ELSE decisions END) WHERE json_extract(value, '$.rule') = ?)")
		args = append(args, f.Rule)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time_ns >= ?")
		args = append(args, clampNano(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time_ns < ?")
		args = append(args, clampNano(f.Until))
	}
	if f.AfterSeq != 0 {
		conds = append(conds, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// clampNano converts t to Unix nanoseconds, saturating outside the range
// they cover.
func clampNano(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return 0
	case !t.Before(maxTime):
		return maxTime.UnixNano() - 1
	}
	return t.UnixNano()
}

// Scan implements [Source]. It reads one consistent snapshot.
func (r *SQLiteReader) Scan(ctx context.Context, f Filter, fn func(*Record) error) (uint64, error) {
	cond, args := f.where()
	q := "SELECT " + columns + " FROM records WHERE " + cond + " AND seq <= ? ORDER BY seq"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	return r.snapshot(ctx, q, args, fn)
}

// Last calls fn for the last n records matching f, oldest first.
func (r *SQLiteReader) Last(ctx context.Context, f Filter, n int, fn func(*Record) error) (uint64, error) {
	cond, args := f.where()
	q := "SELECT * FROM (SELECT " + columns + " FROM records WHERE " + cond + " AND seq <= ? ORDER BY seq DESC LIMIT " +
		strconv.Itoa(n) + ") ORDER BY seq"
	return r.snapshot(ctx, q, args, fn)
}

// snapshot runs q, whose last parameter is the head seq, in one read
// transaction and returns that head seq.
func (r *SQLiteReader) snapshot(ctx context.Context, q string, args []any, fn func(*Record) error) (uint64, error) {
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", r.path, err)
	}
	defer tx.Rollback()
	h, err := readHead(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", r.path, err)
	}
	if err := r.query(ctx, tx, q, append(args, h.Seq), fn); err != nil {
		return 0, err
	}
	return h.Seq, nil
}

func (r *SQLiteReader) query(ctx context.Context, tx *sql.Tx, q string, args []any, fn func(*Record) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("querying %s: %w", r.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var rec Record
		var seq, timeNS, latency int64
		var kind, decision, decisions string
		if err := rows.Scan(&seq, &timeNS, &kind, &rec.CallID, &rec.Caller, &rec.AuthMethod, &rec.Session,
			&rec.Server, &rec.Name, &rec.Method, &rec.Direction, &rec.RequestID, &rec.Revision, &rec.Args,
			&rec.ArgsTruncated, &rec.Result, &rec.ResultTruncated, &decision, &decisions, &latency, &rec.Error,
			&rec.PrevHash, &rec.Hash); err != nil {
			// A column of the wrong type (say, a tampered value) still
			// must not stop a verify from naming the record.
			return &ChainError{Seq: uint64(max(seq, 0)), Reason: fmt.Sprintf("unreadable: %v", err)}
		}
		if seq < 1 {
			// No writer numbers a record below 1: it was renumbered by hand.
			return &ChainError{Seq: 0, Reason: fmt.Sprintf("a record is numbered %d, which no writer produces", seq)}
		}
		rec.Seq = uint64(seq)
		rec.Time = time.Unix(0, timeNS).UTC()
		rec.Kind = Kind(kind)
		rec.Decision = Action(decision)
		rec.Latency = time.Duration(latency)
		if decisions != "" {
			if err := json.Unmarshal([]byte(decisions), &rec.Decisions); err != nil {
				return &ChainError{Seq: rec.Seq, Reason: fmt.Sprintf("unreadable decisions: %v", err)}
			}
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("querying %s: %w", r.path, err)
	}
	return nil
}
