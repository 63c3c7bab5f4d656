package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// JSONLSink appends records to a file, one JSON object per line, with the
// same chain, group commit and sync policy as [SQLiteSink]. One process
// writes a file at a time (it holds an exclusive flock), so the chain head
// is kept in memory; it is read from the last line on open.
type JSONLSink struct {
	chainSink
	be *jsonlBackend
}

var _ Sink = (*JSONLSink)(nil)

// OpenJSONLSink opens (creating if needed) the JSONL log at path. An
// incomplete last line, left by a crash in the middle of a write that was
// therefore never acknowledged, is cut off with a warning. A last line
// that is complete but unreadable is an error: the chain cannot be
// continued from it.
func OpenJSONLSink(path string, sync SyncPolicy, log *slog.Logger) (*JSONLSink, error) {
	if log == nil {
		log = discard
	}
	be, err := openJSONLBackend(path, sync, log)
	if err != nil {
		return nil, err
	}
	return &JSONLSink{chainSink: newChainSink("jsonl:"+path, be, sync, log), be: be}, nil
}

type jsonlBackend struct {
	f      *os.File
	path   string
	policy SyncPolicy
	s      sealer
	buf    bytes.Buffer
	enc    *JSONWriter
	size   int64 // bytes of complete, committed lines
	broken error // set when the file is in an unknown state; every later commit fails

	mu sync.Mutex
	h  Head
}

func openJSONLBackend(path string, policy SyncPolicy, log *slog.Logger) (*jsonlBackend, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit directory: %w", err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("audit log %s is being written by another process", path)
		}
		return nil, fmt.Errorf("locking audit log %s: %w", path, err)
	}
	b := &jsonlBackend{f: f, path: path, policy: policy.orDefault()}
	b.enc = NewJSONWriter(&b.buf)
	if err := b.recover(log); err != nil {
		f.Close()
		return nil, err
	}
	if created && b.policy == SyncFull {
		// The new directory entry must survive a power loss too.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return b, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// recover finds the chain head in the last line and cuts off a torn one.
func (b *jsonlBackend) recover(log *slog.Logger) error {
	st, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("reading audit log %s: %w", b.path, err)
	}
	size := st.Size()
	last, start, err := lastLine(b.f, size)
	if err != nil {
		return fmt.Errorf("reading audit log %s: %w", b.path, err)
	}
	complete := start + int64(len(last))
	if complete < size {
		log.Warn("audit log ended in an incomplete line, left by a crash during a write that was never acknowledged; cutting it off",
			"path", b.path, "bytes", size-complete)
		if err := b.f.Truncate(complete); err != nil {
			return fmt.Errorf("cutting the incomplete last line of %s: %w", b.path, err)
		}
		if err := b.f.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", b.path, err)
		}
	}
	b.size = complete
	if len(last) == 0 {
		return nil
	}
	r, err := DecodeRecord(bytes.TrimSuffix(last, []byte("\n")))
	if err != nil {
		return fmt.Errorf("the last record of audit log %s is unreadable, so the chain cannot be continued (run mcpwarden audit verify --jsonl %s): %w", b.path, b.path, err)
	}
	b.h = Head{Seq: r.Seq, Hash: r.Hash}
	return nil
}

// lastLine returns the last complete line of f (with its newline) and the
// offset it starts at. Bytes after the last newline are not part of it;
// for a file with no newline at all it returns an empty line at 0.
func lastLine(f *os.File, size int64) ([]byte, int64, error) {
	const chunk = 64 << 10
	var tail []byte // bytes from some offset to size
	end := int64(-1)
	off := size
	for off > 0 {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil {
			return nil, 0, err
		}
		tail = append(buf, tail...)
		if end < 0 {
			if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
				end = off + int64(i) + 1
			} else {
				continue
			}
		}
		// Look for the newline before the last line.
		lim := end - 1 - off
		if i := bytes.LastIndexByte(tail[:lim], '\n'); i >= 0 {
			start := off + int64(i) + 1
			return tail[start-off : end-off], start, nil
		}
	}
	if end < 0 {
		return nil, 0, nil
	}
	return tail[:end], 0, nil
}

func (b *jsonlBackend) commit(batch []*Record) error {
	if b.broken != nil {
		return b.broken
	}
	b.buf.Reset()
	h := b.head()
	for _, r := range batch {
		h = b.s.seal(h, r)
		if err := b.enc.Write(r); err != nil {
			return fmt.Errorf("encoding audit record %d: %w", r.Seq, err)
		}
	}
	n, err := b.f.Write(b.buf.Bytes())
	if err != nil {
		// Take back a partial write so the file stays a sequence of
		// complete lines; if even that fails, stop writing.
		if terr := b.f.Truncate(b.size); terr != nil {
			b.broken = fmt.Errorf("audit log %s is damaged: a write failed (%v) and could not be undone: %w", b.path, err, terr)
		}
		return fmt.Errorf("writing %d audit records to %s: %w", len(batch), b.path, err)
	}
	if b.policy == SyncFull {
		if err := b.f.Sync(); err != nil {
			// After a failed fsync the kernel may have dropped the dirty
			// pages: nothing about the file can be trusted until reopened.
			b.broken = fmt.Errorf("audit log %s: fsync failed, reopen the log to continue: %w", b.path, err)
			return b.broken
		}
	}
	b.size += int64(n)
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
	return nil
}

func (b *jsonlBackend) head() Head {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.h
}

func (b *jsonlBackend) close() error {
	var err error
	if b.policy != SyncOff && b.broken == nil {
		err = b.f.Sync()
	}
	return errors.Join(err, b.f.Close())
}

// DecodeError reports a line of a JSONL log that is not a valid record.
type DecodeError struct {
	Line int
	Err  error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *DecodeError) Unwrap() error { return e.Err }

// JSONLReader reads a JSONL audit log. It is safe to use while a gateway
// appends to the file: an incomplete last line is left for a later Scan.
type JSONLReader struct {
	f    *os.File
	path string

	// Where the previous Scan stopped, so that following a growing file
	// reads only what is new.
	resumeSeq  uint64
	resumeOff  int64
	resumeLine int
	line       int // line of the record last passed to fn
}

var _ Source = (*JSONLReader)(nil)

// OpenJSONL opens the JSONL log at path for reading. A missing file is
// reported as an error wrapping [fs.ErrNotExist].
func OpenJSONL(path string) (*JSONLReader, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no audit log at %s: %w", path, err)
		}
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	return &JSONLReader{f: f, path: path}, nil
}

// Close closes the file.
func (r *JSONLReader) Close() error { return r.f.Close() }

// position reports the line of the record last passed to a Scan callback.
func (r *JSONLReader) position() int { return r.line }

// Scan implements [Source]. Records are read in file order; a line that
// does not decode stops the scan with a *[DecodeError].
func (r *JSONLReader) Scan(ctx context.Context, f Filter, fn func(*Record) error) (uint64, error) {
	off, line, last := int64(0), 0, uint64(0)
	if st, err := r.f.Stat(); err == nil && r.resumeSeq > 0 && f.AfterSeq >= r.resumeSeq && st.Size() >= r.resumeOff {
		off, line, last = r.resumeOff, r.resumeLine, r.resumeSeq
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r.f, off, 1<<62), 64<<10)
	matched := 0
	for {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return last, nil // an incomplete line is still being written
		}
		if err != nil {
			return last, fmt.Errorf("reading %s: %w", r.path, err)
		}
		line++
		rec, derr := DecodeRecord(b[:len(b)-1])
		if derr != nil {
			return last, &DecodeError{Line: line, Err: derr}
		}
		off += int64(len(b))
		last = rec.Seq
		r.resumeSeq, r.resumeOff, r.resumeLine = rec.Seq, off, line
		if !f.Match(&rec) {
			continue
		}
		r.line = line
		if err := fn(&rec); err != nil {
			return last, err
		}
		matched++
		if f.Limit > 0 && matched >= f.Limit {
			return last, nil
		}
	}
}

// DecodeRecord decodes one JSONL line. It is stricter than encoding/json:
// member names must match exactly (no case folding), may not repeat, and
// unknown members, nulls, wrong types and trailing data are errors, so a
// line has one meaning for every reader.
func DecodeRecord(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	seen, err := decodeObject(dec, func(key string) error {
		var err error
		switch key {
		case "seq":
			r.Seq, err = tokenUint(dec)
		case "time":
			var s string
			if s, err = tokenString(dec); err == nil {
				r.Time, err = time.Parse(time.RFC3339Nano, s)
				r.Time = r.Time.UTC()
			}
		case "kind":
			var s string
			s, err = tokenString(dec)
			r.Kind = Kind(s)
		case "call_id":
			r.CallID, err = tokenString(dec)
		case "caller":
			r.Caller, err = tokenString(dec)
		case "auth_method":
			r.AuthMethod, err = tokenString(dec)
		case "session":
			r.Session, err = tokenString(dec)
		case "server":
			r.Server, err = tokenString(dec)
		case "name":
			r.Name, err = tokenString(dec)
		case "method":
			r.Method, err = tokenString(dec)
		case "direction":
			r.Direction, err = tokenString(dec)
		case "request_id":
			r.RequestID, err = tokenString(dec)
		case "revision":
			r.Revision, err = tokenString(dec)
		case "args":
			r.Args, err = tokenString(dec)
		case "args_truncated":
			r.ArgsTruncated, err = tokenBool(dec)
		case "result":
			r.Result, err = tokenString(dec)
		case "result_truncated":
			r.ResultTruncated, err = tokenBool(dec)
		case "decision":
			var s string
			s, err = tokenString(dec)
			r.Decision = Action(s)
		case "decisions":
			r.Decisions, err = decodeDecisions(dec)
		case "latency_ns":
			var n int64
			n, err = tokenInt(dec)
			r.Latency = time.Duration(n)
		case "error":
			r.Error, err = tokenString(dec)
		case "prev_hash":
			r.PrevHash, err = tokenString(dec)
		case "hash":
			r.Hash, err = tokenString(dec)
		default:
			return fmt.Errorf("unknown member")
		}
		return err
	})
	if err != nil {
		return Record{}, err
	}
	for _, k := range [...]string{"seq", "time", "kind", "call_id", "method", "prev_hash", "hash"} {
		if !seen[k] {
			return Record{}, fmt.Errorf("missing member %q", k)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, fmt.Errorf("trailing data after the record")
	}
	return r, nil
}

func decodeDecisions(dec *json.Decoder) ([]Decision, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("want an array")
	}
	var ds []Decision
	for dec.More() {
		var d Decision
		seen, err := decodeObject(dec, func(key string) error {
			var err error
			var s string
			switch key {
			case "action":
				s, err = tokenString(dec)
				d.Action = Action(s)
			case "rule":
				d.Rule, err = tokenString(dec)
			case "reason":
				d.Reason, err = tokenString(dec)
			case "control":
				d.Control, err = tokenString(dec)
			default:
				return fmt.Errorf("unknown member")
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", len(ds), err)
		}
		if !seen["action"] {
			return nil, fmt.Errorf("[%d]: missing member \"action\"", len(ds))
		}
		ds = append(ds, d)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return ds, nil
}

// decodeObject reads one JSON object, calling field for each member after
// its name has been read; field must consume the value. It returns the
// names seen.
func decodeObject(dec *json.Decoder, field func(key string) error) (map[string]bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("want an object")
	}
	seen := make(map[string]bool, 24)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want a member name")
		}
		if seen[key] {
			return nil, fmt.Errorf("member %q repeats", key)
		}
		seen[key] = true
		if err := field(key); err != nil {
			return nil, fmt.Errorf("member %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return seen, nil
}

func tokenString(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want a string")
	}
	return s, nil
}

func tokenBool(dec *json.Decoder) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	b, ok := tok.(bool)
	if !ok {
		return false, fmt.Errorf("want true or false")
	}
	return b, nil
}

func tokenNumber(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	n, ok := tok.(json.Number)
	if !ok {
		return "", fmt.Errorf("want a number")
	}
	return string(n), nil
}

func tokenUint(dec *json.Decoder) (uint64, error) {
	s, err := tokenNumber(dec)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number")
	}
	return n, nil
}

func tokenInt(dec *json.Decoder) (int64, error) {
	s, err := tokenNumber(dec)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a whole number")
	}
	return n, nil
}
