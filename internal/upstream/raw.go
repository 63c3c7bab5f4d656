package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mcpwarden/internal/coalesce"
	"mcpwarden/internal/jsonscan"
)

// RawPath sends requests to a stdio server as bytes, beside the go-sdk
// session on the same pipes, and takes their responses off the stream
// before the session sees them. The gateway uses it to forward a
// tools/call without decoding it into SDK types and encoding it again,
// which is most of what a proxied call costs (see docs/benchmarks.md).
//
// Its request IDs are strings with a prefix the go-sdk never uses (it
// numbers its own requests), so the two cannot collide. It is safe for
// concurrent use.
type RawPath struct {
	w       *coalesce.Writer // the server's stdin, shared with the SDK session
	next    atomic.Uint64
	mu      sync.Mutex
	pending map[string]chan RawResponse
	closed  error
	meta    atomic.Pointer[[]byte] // see Meta
}

// requestMetaKeys are the per-request _meta members a 2026-07-28 server
// needs, the same on every request of a connection.
var requestMetaKeys = []string{"io.modelcontextprotocol/protocolVersion", "io.modelcontextprotocol/clientInfo", "io.modelcontextprotocol/clientCapabilities"}

// Meta returns the _meta object (protocol version, client info and
// capabilities) that the go-sdk session sends on each request to a
// 2026-07-28 server, once the session has sent one; nil before that, and
// for older servers. Requests on the raw path carry the same, so the
// server sees one client.
func (r *RawPath) Meta() json.RawMessage {
	if m := r.meta.Load(); m != nil {
		return *m
	}
	return nil
}

// learnMeta takes the per-request _meta from a line the go-sdk session
// writes, the first time one carries it.
func (r *RawPath) learnMeta(line []byte) {
	if r == nil || r.meta.Load() != nil || !bytes.Contains(line, []byte(requestMetaKeys[0])) {
		return
	}
	meta := jsonscan.Member(jsonscan.Member(bytes.TrimSpace(line), "params"), "_meta")
	if jsonscan.Member(meta, requestMetaKeys[0]) == nil || jsonscan.Member(meta, requestMetaKeys[2]) == nil {
		return
	}
	out := []byte{'{'}
	for _, key := range requestMetaKeys {
		v := jsonscan.Member(meta, key)
		if v == nil {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, `":`...)
		out = append(out, v...)
	}
	out = append(out, '}')
	if json.Valid(out) {
		r.meta.CompareAndSwap(nil, &out)
	}
}

// RawResponse is a response taken off the stream.
type RawResponse struct {
	Result json.RawMessage // set on success
	Error  json.RawMessage // the JSON-RPC error object, on failure
}

// ErrRawClosed reports that the server's output ended with requests still
// waiting.
var ErrRawClosed = errors.New("the server closed its output")

const rawIDPrefix = "mcpw-raw-"

func newRawPath(w *coalesce.Writer) *RawPath {
	return &RawPath{w: w, pending: make(map[string]chan RawResponse)}
}

// ErrRawTimeout reports that the server did not answer in time. The
// server has been told the request is cancelled.
var ErrRawTimeout = errors.New("the server did not answer in time")

// Call sends method with params (one raw JSON value, without _meta the
// server would need: revision 2025-era servers only) and waits up to
// timeout for the response. On a cancelled context or a timeout it tells
// the server with notifications/cancelled. method is the caller's own
// constant, written unescaped.
func (r *RawPath) Call(ctx context.Context, timeout time.Duration, method string, params json.RawMessage) (RawResponse, error) {
	id := rawIDPrefix + strconv.FormatUint(r.next.Add(1), 10)
	ch := make(chan RawResponse, 1)
	// The line is built by hand: this runs on every fast-path call, and
	// json.Marshal would validate and copy params again.
	msg := make([]byte, 0, len(params)+len(method)+64)
	msg = append(msg, `{"jsonrpc":"2.0","id":"`...)
	msg = append(msg, id...)
	msg = append(msg, `","method":"`...)
	msg = append(msg, method...)
	msg = append(msg, '"')
	if len(params) > 0 {
		msg = append(msg, `,"params":`...)
		msg = append(msg, params...)
	}
	msg = append(msg, '}')

	r.mu.Lock()
	if r.closed != nil {
		err := r.closed
		r.mu.Unlock()
		return RawResponse{}, err
	}
	r.pending[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.pending, id)
		r.mu.Unlock()
	}()

	if err := r.w.WriteLine(msg); err != nil {
		return RawResponse{}, fmt.Errorf("writing to the server: %w", err)
	}
	timer := timers.Get().(*time.Timer)
	timer.Reset(timeout)
	defer func() {
		// Since Go 1.23 a stopped timer delivers nothing stale, so it can
		// be reused as is.
		timer.Stop()
		timers.Put(timer)
	}()
	var err error
	select {
	case resp, ok := <-ch:
		if !ok {
			return RawResponse{}, ErrRawClosed
		}
		return resp, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = ErrRawTimeout
	}
	cancel, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": id, "reason": "cancelled by the client"}})
	_ = r.w.WriteLine(cancel)
	return RawResponse{}, err
}

// timers saves a timer allocation on every call.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// responseKeys are the members of a plain JSON-RPC response.
var responseKeys = []string{"jsonrpc", "id", "result", "error"}

// deliver takes a response line for one of the path's requests. It
// reports false for every other line, which goes on to the SDK.
func (r *RawPath) deliver(line []byte) bool {
	if r == nil || !bytes.Contains(line, []byte(rawIDPrefix)) || !json.Valid(line) {
		return false
	}
	var (
		id             string
		result, rpcErr json.RawMessage
	)
	vals := make([][]byte, len(responseKeys))
	if jsonscan.Fields(line, responseKeys, vals) {
		var ok bool
		if id, ok = jsonscan.PlainString(vals[1]); !ok {
			return false
		}
		// Copied: line is the reader's buffer, reused for the next read.
		result, rpcErr = bytes.Clone(vals[2]), bytes.Clone(vals[3])
	} else {
		// Extra members or escapes: decode it properly.
		var m struct {
			ID     string          `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(line, &m) != nil || m.Method != "" {
			return false
		}
		id, result, rpcErr = m.ID, m.Result, m.Error
	}
	if len(id) <= len(rawIDPrefix) || id[:len(rawIDPrefix)] != rawIDPrefix {
		return false
	}
	// "error": null (or "result": null) is absent, as the SDK reads it.
	if string(result) == "null" {
		result = nil
	}
	if string(rpcErr) == "null" {
		rpcErr = nil
	}
	r.mu.Lock()
	ch := r.pending[id]
	r.mu.Unlock()
	if ch != nil {
		select {
		case ch <- RawResponse{Result: result, Error: rpcErr}:
		default: // a repeated answer; the reader must never block on it
		}
	}
	return true // ours, even if nobody waits any more (a late answer to a cancelled call)
}

// close fails every waiting request; later calls fail at once.
func (r *RawPath) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed != nil {
		return
	}
	r.closed = ErrRawClosed
	for id, ch := range r.pending {
		close(ch)
		delete(r.pending, id)
	}
}

// filterReader reads a server's output line by line (a stdio server's
// stdout, or an HTTP response body, JSON or SSE), counts progress
// notifications, and passes every line on except the raw path's
// responses (with no raw path, every line). A line is passed on only once it is complete. Its buffers
// are reused, so a steady stream allocates nothing.
type filterReader struct {
	r        io.Reader
	progress *ProgressCounter
	raw      *RawPath
	// pooled is set for short-lived readers (HTTP response bodies): their
	// buffers come from a pool and go back to it at the end of the body,
	// instead of costing every call a fresh 32 KiB.
	pooled bool
	buf    []byte // read, not yet split into lines
	out    []byte // complete lines ready for the caller
	off    int    // what of out the caller has taken
	err    error
	done   bool           // the end was returned and the buffers released
	bufs   *filterBuffers // where buf and out came from, when pooled
}

// bodyBuffers holds the buffers of finished HTTP response readers.
var bodyBuffers = sync.Pool{New: func() any { return new(filterBuffers) }}

type filterBuffers struct{ buf, out []byte }

// maxPooled bounds what a pooled buffer may have grown to.
const maxPooled = 256 << 10

func (f *filterReader) Read(p []byte) (int, error) {
	if f.done {
		return 0, f.err
	}
	if f.pooled && f.bufs == nil {
		f.bufs = bodyBuffers.Get().(*filterBuffers)
		f.buf, f.out = f.bufs.buf[:0], f.bufs.out[:0]
	}
	for f.off == len(f.out) {
		f.out, f.off = f.out[:0], 0
		if f.err != nil {
			if len(f.buf) > 0 { // a last line without a newline
				f.out = append(f.out, f.buf...)
				f.buf = f.buf[:0]
				break
			}
			f.raw.close()
			f.release()
			return 0, f.err
		}
		if cap(f.buf)-len(f.buf) < 4096 {
			grown := make([]byte, len(f.buf), max(2*cap(f.buf), 32<<10))
			copy(grown, f.buf)
			f.buf = grown
		}
		n, err := f.r.Read(f.buf[len(f.buf):cap(f.buf)])
		f.buf = f.buf[:len(f.buf)+n]
		f.err = err
		rest := f.buf
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			line := rest[:i+1]
			f.progress.scanLine(line[:i])
			if !f.raw.deliver(line[:i]) {
				f.out = append(f.out, line...)
			}
			rest = rest[i+1:]
		}
		f.buf = f.buf[:copy(f.buf, rest)]
	}
	n := copy(p, f.out[f.off:])
	f.off += n
	return n, nil
}

// release ends the reader; a pooled one gives its buffers back.
func (f *filterReader) release() {
	f.done = true
	if f.bufs != nil && cap(f.buf) <= maxPooled && cap(f.out) <= maxPooled {
		f.bufs.buf, f.bufs.out = f.buf[:0], f.out[:0]
		bodyBuffers.Put(f.bufs)
	}
	f.bufs, f.buf, f.out = nil, nil, nil
}
