package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/coalesce"
)

// ServeStdio serves one agent over newline-delimited JSON-RPC on r and w
// (mcpwarden wrap) until the agent closes its input or ctx is done.
//
// Unlike the go-sdk's stdio transport, a malformed, oversized or
// non-UTF-8 line is answered with a JSON-RPC error and skipped: one bad
// message does not end the session.
func (g *Gateway) ServeStdio(ctx context.Context, r io.Reader, w io.Writer) error {
	t := &frameTransport{r: r, w: w, limit: int(g.cfg.Gateway.MaxMessageBytes), log: g.log}
	ss, err := g.srv.Connect(ctx, t, nil)
	if err != nil {
		return fmt.Errorf("serving stdio: %w", err)
	}
	if t.conn != nil {
		fp := newFastPath(ctx, g, ss, t.conn)
		t.conn.fast.Store(fp)
		defer fp.closeAll()
	}
	done := make(chan error, 1)
	go func() { done <- ss.Wait() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, mcp.ErrConnectionClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
		_ = ss.Close()
		<-done
		return nil
	}
}

type frameTransport struct {
	r     io.Reader
	w     io.Writer
	limit int
	log   *slog.Logger
	conn  *frameConn // set by Connect
}

func (t *frameTransport) Connect(context.Context) (mcp.Connection, error) {
	c := &frameConn{
		w:      coalesce.New(t.w),
		limit:  t.limit,
		log:    t.log,
		frames: make(chan frame),
		closed: make(chan struct{}),
	}
	go c.readLoop(bufio.NewReaderSize(t.r, 64<<10))
	t.conn = c
	return c, nil
}

// frameConn is a [mcp.Connection] over newline-delimited JSON with a size
// limit in both directions.
type frameConn struct {
	w     *coalesce.Writer // whole lines; concurrent ones merged
	limit int
	log   *slog.Logger

	frames    chan frame
	closed    chan struct{}
	closeOnce sync.Once

	fast atomic.Pointer[fastPath] // set once the session exists
}

type frame struct {
	line     []byte
	tooLarge bool
	err      error
}

func (c *frameConn) readLoop(br *bufio.Reader) {
	for {
		line, tooLarge, err := readFrame(br, c.limit)
		// Served here, the fast path's calls skip the hand-over to the
		// session's reader. They are registered before the next line is
		// read, so a cancellation that follows finds its call.
		if fp := c.fast.Load(); fp != nil && len(line) > 0 && fp.tryLine(line) {
			line = nil
		}
		if len(line) > 0 || tooLarge {
			select {
			case c.frames <- frame{line: line, tooLarge: tooLarge}:
			case <-c.closed:
				return
			}
		}
		if err != nil {
			select {
			case c.frames <- frame{err: err}:
			case <-c.closed:
			}
			return
		}
	}
}

// readFrame reads one line of at most limit bytes, without its newline
// (and without a trailing \r). A longer line is read to its end and
// discarded, and reported as tooLarge, so the stream stays in sync.
func readFrame(br *bufio.Reader, limit int) (line []byte, tooLarge bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLarge {
			if len(buf)+len(chunk) > limit+1 { // +1: the newline does not count
				tooLarge, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLarge {
			return nil, true, err
		}
		n := len(buf)
		if n > 0 && buf[n-1] == '\n' {
			n--
		}
		if n > 0 && buf[n-1] == '\r' {
			n--
		}
		return trimSpace(buf[:n]), false, err
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Read returns the next valid message, answering invalid ones itself.
func (c *frameConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		var f frame
		select {
		case f = <-c.frames:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, io.EOF
		}
		if f.err != nil {
			return nil, f.err
		}
		msg, id, code, reason := decodeFrame(f, c.limit)
		if msg != nil {
			if fp := c.fast.Load(); fp != nil {
				fp.see(msg)
			}
			return msg, nil
		}
		c.log.Warn("rejected a malformed message from the client", "reason", reason)
		if err := c.writeRaw(rpcError(id, code, reason)); err != nil {
			return nil, err
		}
	}
}

// decodeFrame decodes one line into a JSON-RPC message, or says which
// error to answer with: parse error for bytes that are not UTF-8 JSON,
// invalid request for JSON that is not a JSON-RPC message.
func decodeFrame(f frame, limit int) (msg jsonrpc.Message, id json.RawMessage, code int, reason string) {
	switch {
	case f.tooLarge:
		return nil, nil, codeMessageTooLarge, fmt.Sprintf("the message exceeds mcpwarden's limit of %d bytes", limit)
	case !utf8.Valid(f.line):
		return nil, nil, codeParseError, "parse error: the message is not valid UTF-8"
	case !json.Valid(f.line):
		return nil, nil, codeParseError, "parse error: the message is not valid JSON"
	case f.line[0] == '[':
		return nil, nil, codeInvalidRequest, "JSON-RPC batches are not supported; send one message per line"
	}
	m, err := jsonrpc.DecodeMessage(f.line)
	if err != nil {
		var probe struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(f.line, &probe)
		if probe.ID != nil && !validID(probe.ID) {
			probe.ID = nil
		}
		return nil, probe.ID, codeInvalidRequest, "invalid request: " + err.Error()
	}
	return m, nil, 0, ""
}

// validID reports whether raw is a JSON-RPC ID (string or number) that
// may be echoed back.
func validID(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// Write sends one message. A response too large for the limit is replaced
// by an error for the same request, so the client is not left waiting.
func (c *frameConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if resp, ok := msg.(*jsonrpc.Response); ok {
		msg = fixErrorCode(resp)
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("encoding message: %w", err)
	}
	if len(data) > c.limit {
		resp, ok := msg.(*jsonrpc.Response)
		if !ok {
			c.log.Warn("dropped an outgoing message over the size limit", "bytes", len(data), "limit", c.limit)
			return nil
		}
		c.log.Warn("replaced an oversized response with an error", "bytes", len(data), "limit", c.limit)
		data, err = jsonrpc.EncodeMessage(&jsonrpc.Response{ID: resp.ID, Error: &jsonrpc.Error{
			Code:    jsonrpc.CodeInternalError,
			Message: fmt.Sprintf("the response (%d bytes) exceeds mcpwarden's limit of %d bytes", len(data), c.limit),
		}})
		if err != nil {
			return err
		}
	}
	return c.writeLine(data)
}

// fixErrorCode gives a code to errors the go-sdk sends without one (code
// 0 is not a JSON-RPC error code): a request before initialize is an
// invalid request, anything else an internal error.
func fixErrorCode(resp *jsonrpc.Response) *jsonrpc.Response {
	if resp.Error == nil {
		return resp
	}
	fixed := jsonrpc.Error{Message: resp.Error.Error()}
	var werr *jsonrpc.Error
	if errors.As(resp.Error, &werr) {
		if werr.Code != 0 {
			return resp
		}
		fixed.Data = werr.Data
	}
	fixed.Code = jsonrpc.CodeInternalError
	if strings.Contains(fixed.Message, "during session initialization") {
		fixed.Code = jsonrpc.CodeInvalidRequest
		fixed.Message += " (send initialize first)"
	}
	out := *resp
	out.Error = &fixed
	return &out
}

func (c *frameConn) writeRaw(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeLine(data)
}

func (c *frameConn) writeLine(data []byte) error {
	select {
	case <-c.closed:
		return io.ErrClosedPipe
	default:
	}
	return c.w.WriteLine(data)
}

func (c *frameConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *frameConn) SessionID() string { return "" }
