package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/jsonscan"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/upstream"
)

// fastPath forwards a stdio client's tools/call to a stdio server as
// bytes, when nothing about the call needs the go-sdk's typed handling:
// a 2025-era client and server, params with only name and arguments (no
// progress token or other _meta). The pipeline runs exactly as on the
// ordinary path, on the raw params and result; only the two decodes into
// SDK types and the two encodes back, which are most of what a proxied
// call costs, are skipped. Everything else takes the ordinary path.
type fastPath struct {
	g    *Gateway
	ss   *mcp.ServerSession
	conn *frameConn
	ctx  context.Context // the session's lifetime
	base context.Context // ctx's values without its cancellation

	mu       sync.Mutex
	inflight map[string]context.CancelFunc // downstream request ID → cancel
	done     bool                          // the session ended
}

func newFastPath(ctx context.Context, g *Gateway, ss *mcp.ServerSession, conn *frameConn) *fastPath {
	return &fastPath{g: g, ss: ss, conn: conn, ctx: ctx, base: context.WithoutCancel(ctx), inflight: make(map[string]context.CancelFunc)}
}

// tryLine takes a client's line if it is a tools/call the fast path can
// serve, and reports whether it did. It looks at the raw bytes only, so a
// call it serves is never decoded into SDK types; anything it does not
// take goes on to the ordinary decoder, which also answers bad input.
func (fp *fastPath) tryLine(line []byte) bool {
	if !bytes.Contains(line, []byte(`"tools/call"`)) || fp.g.draining.Load() {
		return false
	}
	p := fp.ss.InitializeParams()
	if p == nil || p.ProtocolVersion >= "2026-07-28" {
		return false
	}
	// A bare CR is JSON whitespace, and many stdio readers (Python's
	// universal newlines, for one) end a line at it: forwarded as is, a
	// CR inside the arguments could make the server read a second
	// request the pipeline never saw. The ordinary path re-encodes.
	if bytes.IndexByte(line, '\r') >= 0 || !utf8.Valid(line) || !json.Valid(line) {
		return false
	}
	var top, params [4][]byte
	if !jsonscan.Fields(line, requestKeys, top[:]) ||
		string(top[0]) != `"2.0"` || string(top[2]) != `"tools/call"` || top[3] == nil {
		return false
	}
	id, ok := plainID(top[1])
	if !ok {
		return false
	}
	if !jsonscan.Fields(top[3], paramKeys, params[:2]) {
		return false // _meta (a progress token, say) or anything else: the ordinary path
	}
	name, ok := jsonscan.PlainString(params[0])
	if !ok {
		return false
	}
	server, inner, ok := fp.g.split(name)
	if !ok {
		return false
	}
	b, _ := fp.g.backend(server)
	conn := b.current()
	if conn == nil || conn.Raw == nil {
		return false
	}
	if conn.Session.InitializeResult().ProtocolVersion >= "2026-07-28" && conn.Raw.Meta() == nil {
		return false // the per-request _meta is not known yet
	}
	if _, listed := (lookup{fp.g}).Tool(server, inner); !listed {
		return false // the ordinary path answers unknown tools
	}
	fc := fastCall{idRaw: top[1], id: id, params: top[3]}
	key := string(fc.idRaw)
	// Not a child of the session's context: thousands of calls a second
	// would contend on its lock. closeAll cancels them when it ends.
	ctx, cancel := context.WithCancel(fp.base)
	fp.mu.Lock()
	if _, dup := fp.inflight[key]; fp.done || dup {
		// A second call under an ID still in flight: the ordinary path
		// answers it (a cancellation could not tell the two apart).
		fp.mu.Unlock()
		cancel()
		return false
	}
	fp.inflight[key] = cancel
	fp.mu.Unlock()
	fp.g.inflight.Add(1)
	go func() {
		defer fp.g.inflight.Done()
		defer func() {
			fp.mu.Lock()
			delete(fp.inflight, key)
			fp.mu.Unlock()
			cancel()
		}()
		fp.serve(ctx, fc, b, conn, inner, params[1])
	}()
	return true
}

var (
	requestKeys = []string{"jsonrpc", "id", "method", "params"}
	paramKeys   = []string{"name", "arguments"}
)

// fastCall is a tools/call taken off the wire by the fast path.
type fastCall struct {
	idRaw  []byte // as the client wrote it; echoed back verbatim
	id     jsonrpc.ID
	params json.RawMessage
}

// plainID accepts the request IDs whose wire form is canonical, so that a
// later notifications/cancelled names them with the same bytes: integers
// that survive a float64, and strings without escapes.
func plainID(raw []byte) (jsonrpc.ID, bool) {
	if s, ok := jsonscan.PlainString(raw); ok {
		id, err := jsonrpc.MakeID(s)
		return id, err == nil
	}
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && (len(digits) > 1 || len(raw) > 1)) { // no 007, no -0
		return jsonrpc.ID{}, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return jsonrpc.ID{}, false
		}
		n = n*10 + int64(c-'0')
	}
	if raw[0] == '-' {
		n = -n
	}
	id, err := jsonrpc.MakeID(float64(n))
	return id, err == nil
}

// see shows the fast path a decoded message it must act on: a
// cancellation of one of its calls. The message still goes on to the
// session, so the pipeline sees it like any notification (the session
// ignores the unknown request ID).
func (fp *fastPath) see(msg jsonrpc.Message) {
	if req, ok := msg.(*jsonrpc.Request); ok && !req.IsCall() && req.Method == "notifications/cancelled" {
		fp.cancelled(req.Params)
	}
}

// closeAll cancels every call in flight, when the session ends.
func (fp *fastPath) closeAll() {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fp.done = true
	for _, cancel := range fp.inflight {
		cancel()
	}
}

// plainToolCall returns the name and arguments of tools/call params that
// carry nothing else (params an interceptor rewrote).
func plainToolCall(params json.RawMessage) (name string, args json.RawMessage, ok bool) {
	var vals [2][]byte
	if !json.Valid(params) || !jsonscan.Fields(params, paramKeys, vals[:]) {
		return "", nil, false
	}
	if json.Unmarshal(vals[0], &name) != nil || name == "" {
		return "", nil, false
	}
	return name, vals[1], true
}

// cancelled ends a fast-path call the client cancelled. The server is told
// by the raw path; the client gets no answer, as the spec says.
func (fp *fastPath) cancelled(params json.RawMessage) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil {
		return
	}
	fp.mu.Lock()
	cancel, ok := fp.inflight[string(p.RequestID)]
	fp.mu.Unlock()
	if ok {
		cancel()
	}
}

func (fp *fastPath) serve(ctx context.Context, req fastCall, b *backend, conn *upstream.Conn, name string, args json.RawMessage) {
	g := fp.g
	g.fastCalls.Add(1)
	var id pipeline.Identity
	if g.ident != nil {
		id = g.ident(ctx, nil)
	}
	call := &pipeline.Call{
		ID:        string(req.idRaw),
		Session:   g.sessions.id(fp.ss),
		Revision:  revision(fp.ss),
		Caller:    id,
		Direction: pipeline.ToServer,
		Method:    "tools/call",
		Server:    b.name,
		Name:      name,
		Params:    req.params,
		Start:     time.Now(),
		Catalog:   lookup{g},
	}
	ctx = context.WithValue(ctx, callKey{}, call)

	if err := g.chain.Request(ctx, call); err != nil {
		need, isApproval := err.(*pipeline.ApprovalNeeded)
		if !isApproval {
			g.chain.Finish(ctx, call, nil, err)
			fp.respondDenial(req, err)
			return
		}
		var typed mcp.CallToolParamsRaw
		_ = json.Unmarshal(req.params, &typed)
		// A 2025-era client is asked with elicitation: no question comes
		// back as a result on this path.
		if _, d := g.settleApproval(ctx, fp.ss, call, "tools/call", &typed, need); d != nil {
			g.chain.Finish(ctx, call, nil, d)
			fp.respondDenial(req, d)
			return
		}
	}
	if !sameBytes(call.Params, req.params) {
		rname, rargs, ok := plainToolCall(call.Params)
		server, inner, ok2 := g.split(rname)
		if !ok || !ok2 || server != b.name {
			err := errors.New("an interceptor rewrote the call into one the gateway cannot forward")
			g.chain.Finish(ctx, call, nil, err)
			fp.respond(&jsonrpc.Response{ID: req.id, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}})
			return
		}
		name, args = inner, rargs
	}

	// Register like any call, so that server-to-client requests and
	// egress are attributed to it.
	f := &flight{g: g, b: b, method: "tools/call", name: name}
	f.attach(ctx, fp.ss, nil)
	g.flights.add(f)
	defer g.flights.remove(f)
	end := b.beginCause(f.id, f.cause)
	defer end()

	timeout := b.cfg.CallTimeout.D()
	if call.Timeout > 0 {
		timeout = call.Timeout
	}
	// A 2026-07-28 server needs the per-request _meta the go-sdk session
	// sends it (nil for older servers).
	meta := conn.Raw.Meta()
	resp, err := conn.Raw.Call(ctx, timeout, "tools/call", toolCallParams(name, args, meta))
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.Canceled):
		g.chain.Finish(ctx, call, nil, ctx.Err()) // cancelled by the client: no answer
		return
	case errors.Is(err, upstream.ErrRawTimeout):
		err = &upstreamError{server: b.name, msg: fmt.Sprintf("did not answer within %s", timeout)}
	case errors.Is(err, upstream.ErrRawClosed):
		err = &upstreamError{server: b.name, msg: "exited or closed the connection while the call was in flight; it is being restarted"}
	default:
		err = &upstreamError{server: b.name, msg: "failed", cause: err}
	}
	if err != nil {
		call.Set(MetaUpstreamError, err)
		res := toolErrorJSON(err.Error())
		g.chain.Finish(ctx, call, res, err)
		fp.respond(&jsonrpc.Response{ID: req.id, Result: res})
		return
	}
	if resp.Error != nil {
		var werr jsonrpc.Error
		if json.Unmarshal(resp.Error, &werr) != nil {
			werr = jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: string(resp.Error)}
		}
		g.chain.Finish(ctx, call, nil, &werr)
		fp.respond(&jsonrpc.Response{ID: req.id, Error: &werr})
		return
	}
	result := resp.Result
	if meta != nil && needsInput(result) {
		// The server asks for input (multi round trip): the ordinary
		// path's flight asks this 2025-era client and retries.
		if result, err = fp.continueCall(ctx, b, name, args, result); err != nil {
			g.chain.Finish(ctx, call, nil, err)
			var werr *jsonrpc.Error
			if !errors.As(err, &werr) {
				werr = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
			}
			fp.respond(&jsonrpc.Response{ID: req.id, Error: werr})
			return
		}
	}
	out, err := g.chain.Response(ctx, call, result)
	if err != nil {
		g.chain.Finish(ctx, call, nil, err)
		fp.respondDenial(req, err)
		return
	}
	g.chain.Finish(ctx, call, out, nil)
	fp.respondResult(req, out)
}

func (fp *fastPath) respond(resp *jsonrpc.Response) {
	if err := fp.conn.Write(fp.ctx, resp); err != nil {
		fp.g.log.Debug("writing a fast-path response failed", "err", err)
	}
}

// respondResult writes a result without re-encoding it: the go-sdk's
// encoder would validate and compact the raw result again, the single
// biggest cost of the fast path. The result is one JSON value from the
// server's output line or from an interceptor's encoder, so it has no raw
// newline; anything with a newline or CR goes through the ordinary
// encoder.
func (fp *fastPath) respondResult(req fastCall, res json.RawMessage) {
	id := req.idRaw
	// A raw newline or CR in the result could end the line early for the
	// client, so such results are re-encoded.
	if bytes.ContainsAny(res, "\r\n") || len(res) == 0 {
		fp.respond(&jsonrpc.Response{ID: req.id, Result: res})
		return
	}
	line := make([]byte, 0, len(res)+len(id)+36)
	line = append(line, `{"jsonrpc":"2.0","id":`...)
	line = append(line, id...)
	line = append(line, `,"result":`...)
	line = append(line, res...)
	line = append(line, '}')
	if len(line) > fp.conn.limit {
		fp.respond(&jsonrpc.Response{ID: req.id, Result: res}) // replaced by an error there
		return
	}
	if err := fp.conn.writeLine(line); err != nil {
		fp.g.log.Debug("writing a fast-path response failed", "err", err)
	}
}

// respondDenial answers as the ordinary path does: a tool error the
// model reads.
func (fp *fastPath) respondDenial(req fastCall, err error) {
	res, rerr := denialResult("tools/call", err)
	if rerr != nil {
		var werr *jsonrpc.Error
		if !errors.As(rerr, &werr) {
			werr = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: rerr.Error()}
		}
		fp.respond(&jsonrpc.Response{ID: req.id, Error: werr})
		return
	}
	fp.respond(&jsonrpc.Response{ID: req.id, Result: mustJSON(res)})
}

// toolCallParams encodes the params forwarded upstream. Names from the
// wire have no characters that need escaping (the fast path takes no
// others), so the common case is built by hand.
func toolCallParams(name string, args, meta json.RawMessage) json.RawMessage {
	for _, c := range []byte(name) {
		if c == '"' || c == '\\' || c < 0x20 {
			up, _ := json.Marshal(struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments,omitempty"`
				Meta      json.RawMessage `json:"_meta,omitempty"`
			}{name, args, meta})
			return up
		}
	}
	up := make([]byte, 0, len(name)+len(args)+len(meta)+32)
	up = append(up, `{"name":"`...)
	up = append(up, name...)
	up = append(up, '"')
	if len(args) > 0 {
		up = append(up, `,"arguments":`...)
		up = append(up, args...)
	}
	if len(meta) > 0 {
		up = append(up, `,"_meta":`...)
		up = append(up, meta...)
	}
	return append(up, '}')
}

// needsInput reports whether a raw tools/call result is a 2026-07-28
// input_required result.
func needsInput(res json.RawMessage) bool {
	return string(jsonscan.Member(res, "resultType")) == `"input_required"`
}

// continueCall finishes a fast-path call whose 2026-07-28 server asked
// for input: first is the server's input_required result. The ordinary
// path's flight asks the client (a 2025-era one: elicitation, sampling or
// roots requests) and retries through the go-sdk session until the
// server completes, and the final result is returned encoded.
func (fp *fastPath) continueCall(ctx context.Context, b *backend, name string, args, first json.RawMessage) (json.RawMessage, error) {
	var res mcp.CallToolResult
	if err := json.Unmarshal(first, &res); err != nil {
		return nil, &upstreamError{server: b.name, msg: "sent an input_required result that cannot be decoded", cause: err}
	}
	used := false
	r, err := fp.g.forward(ctx, b, "tools/call", name, fp.ss, nil, nil, "",
		func(ctx context.Context, cs *mcp.ClientSession, responses mcp.InputResponseMap, state string, _ any) (mcp.Result, error) {
			if !used {
				used = true
				return &res, nil
			}
			return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args, InputResponses: responses, RequestState: state})
		})
	if err != nil {
		if c := callFrom(ctx); c != nil {
			c.Set(MetaUpstreamError, err)
		}
		tr, terr := toolFailure(err)
		if terr != nil {
			return nil, terr
		}
		return json.Marshal(tr)
	}
	return json.Marshal(r)
}

func toolErrorJSON(text string) json.RawMessage {
	return mustJSON(&mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
