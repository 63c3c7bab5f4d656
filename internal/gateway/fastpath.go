package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

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

	mu       sync.Mutex
	inflight map[string]context.CancelFunc // downstream request ID → cancel
}

func newFastPath(ctx context.Context, g *Gateway, ss *mcp.ServerSession, conn *frameConn) *fastPath {
	return &fastPath{g: g, ss: ss, conn: conn, ctx: ctx, inflight: make(map[string]context.CancelFunc)}
}

// try takes msg if the fast path can serve it, and reports whether it did.
func (fp *fastPath) try(msg jsonrpc.Message) bool {
	req, ok := msg.(*jsonrpc.Request)
	if !ok {
		return false
	}
	if !req.IsCall() {
		return req.Method == "notifications/cancelled" && fp.cancelled(req.Params)
	}
	if req.Method != "tools/call" || fp.g.draining.Load() {
		return false
	}
	p := fp.ss.InitializeParams()
	if p == nil || p.ProtocolVersion >= "2026-07-28" {
		return false
	}
	name, args, ok := plainToolCall(req.Params)
	if !ok {
		return false
	}
	server, inner, ok := fp.g.split(name)
	if !ok {
		return false
	}
	b, _ := fp.g.backend(server)
	conn := b.current()
	if conn == nil || conn.Raw == nil || conn.Session.InitializeResult().ProtocolVersion >= "2026-07-28" {
		return false
	}
	if _, listed := (lookup{fp.g}).Tool(server, inner); !listed {
		return false // the ordinary path answers unknown tools
	}
	ctx, cancel := context.WithCancel(fp.ctx)
	key := string(mustJSON(req.ID.Raw()))
	fp.mu.Lock()
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
		fp.serve(ctx, req, b, conn, inner, args)
	}()
	return true
}

// plainToolCall returns the name and arguments of tools/call params that
// carry nothing else.
func plainToolCall(params json.RawMessage) (name string, args json.RawMessage, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) != nil {
		return "", nil, false
	}
	for k := range m {
		if k != "name" && k != "arguments" {
			return "", nil, false
		}
	}
	if json.Unmarshal(m["name"], &name) != nil || name == "" {
		return "", nil, false
	}
	return name, m["arguments"], true
}

// cancelled ends a fast-path call the client cancelled. The server is told
// by the raw path; the client gets no answer, as the spec says.
func (fp *fastPath) cancelled(params json.RawMessage) bool {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil {
		return false
	}
	fp.mu.Lock()
	cancel, ok := fp.inflight[string(p.RequestID)]
	fp.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}

func (fp *fastPath) serve(ctx context.Context, req *jsonrpc.Request, b *backend, conn *upstream.Conn, name string, args json.RawMessage) {
	g := fp.g
	g.fastCalls.Add(1)
	var id pipeline.Identity
	if g.ident != nil {
		id = g.ident(ctx, nil)
	}
	ctx = context.WithValue(ctx, callerKey{}, id)
	call := &pipeline.Call{
		ID:        string(mustJSON(req.ID.Raw())),
		Session:   g.sessions.id(fp.ss),
		Revision:  revision(fp.ss),
		Caller:    id,
		Direction: pipeline.ToServer,
		Method:    "tools/call",
		Server:    b.name,
		Name:      name,
		Params:    req.Params,
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
		_ = json.Unmarshal(req.Params, &typed)
		// A 2025-era client is asked with elicitation: no question comes
		// back as a result on this path.
		if _, d := g.settleApproval(ctx, fp.ss, call, "tools/call", &typed, need); d != nil {
			g.chain.Finish(ctx, call, nil, d)
			fp.respondDenial(req, d)
			return
		}
	}
	if !sameBytes(call.Params, req.Params) {
		rname, rargs, ok := plainToolCall(call.Params)
		server, inner, ok2 := g.split(rname)
		if !ok || !ok2 || server != b.name {
			err := errors.New("an interceptor rewrote the call into one the gateway cannot forward")
			g.chain.Finish(ctx, call, nil, err)
			fp.respond(&jsonrpc.Response{ID: req.ID, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}})
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
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	up, _ := json.Marshal(struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments,omitempty"`
	}{name, args})
	resp, err := conn.Raw.Call(cctx, "tools/call", up)
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.Canceled):
		g.chain.Finish(ctx, call, nil, ctx.Err()) // cancelled by the client: no answer
		return
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
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
		fp.respond(&jsonrpc.Response{ID: req.ID, Result: res})
		return
	}
	if resp.Error != nil {
		var werr jsonrpc.Error
		if json.Unmarshal(resp.Error, &werr) != nil {
			werr = jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: string(resp.Error)}
		}
		g.chain.Finish(ctx, call, nil, &werr)
		fp.respond(&jsonrpc.Response{ID: req.ID, Error: &werr})
		return
	}
	out, err := g.chain.Response(ctx, call, resp.Result)
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
// newline; anything else goes through the ordinary encoder.
func (fp *fastPath) respondResult(req *jsonrpc.Request, res json.RawMessage) {
	id := mustJSON(req.ID.Raw())
	if bytes.IndexByte(res, '\n') >= 0 || len(res) == 0 {
		fp.respond(&jsonrpc.Response{ID: req.ID, Result: res})
		return
	}
	line := make([]byte, 0, len(res)+len(id)+36)
	line = append(line, `{"jsonrpc":"2.0","id":`...)
	line = append(line, id...)
	line = append(line, `,"result":`...)
	line = append(line, res...)
	line = append(line, '}')
	if len(line) > fp.conn.limit {
		fp.respond(&jsonrpc.Response{ID: req.ID, Result: res}) // replaced by an error there
		return
	}
	if err := fp.conn.writeLine(line); err != nil {
		fp.g.log.Debug("writing a fast-path response failed", "err", err)
	}
}

// respondDenial answers as the ordinary path does: a tool error the
// model reads.
func (fp *fastPath) respondDenial(req *jsonrpc.Request, err error) {
	res, rerr := denialResult("tools/call", err)
	if rerr != nil {
		var werr *jsonrpc.Error
		if !errors.As(rerr, &werr) {
			werr = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: rerr.Error()}
		}
		fp.respond(&jsonrpc.Response{ID: req.ID, Error: werr})
		return
	}
	fp.respond(&jsonrpc.Response{ID: req.ID, Result: mustJSON(res)})
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
