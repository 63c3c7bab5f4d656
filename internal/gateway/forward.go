package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/pipeline"
)

// maxRounds bounds multi round-trip exchanges in one call, so a server
// that asks for input forever cannot hold a client forever.
const maxRounds = 10

// upcall performs one upstream request: the first attempt, or a retry
// carrying the client's input responses and the server's requestState.
type upcall func(ctx context.Context, cs *mcp.ClientSession, responses mcp.InputResponseMap, state string, progress any) (mcp.Result, error)

// flight is one downstream request being forwarded to a backend. It lives
// until the upstream call finishes, which may span several downstream
// requests when the call needs input from a 2026-07-28 client.
type flight struct {
	id      uint64
	g       *Gateway
	b       *backend
	method  string
	name    string
	call    upcall
	timeout time.Duration // per attempt: the server's call_timeout or the call's own

	mu       sync.Mutex
	ctx      context.Context // the downstream request currently attached
	ss       *mcp.ServerSession
	newProto bool
	token    any // the client's progress token, if any
	session  string
	caller   string

	upToken string // the progress token sent upstream
	upCtx   context.Context
	cancel  context.CancelFunc
	done    chan flightResult
	inputs  chan *exchange
	once    sync.Once
	rounds  int
	sync    bool // see newFlight
}

type flightResult struct {
	res mcp.Result
	err error
}

// exchange is a server-to-client request from a 2025-era server waiting
// for a 2026-07-28 client to answer it through a multi round-trip retry.
type exchange struct {
	key  string
	req  mcp.InputRequest
	resp chan exchangeResult
}

type exchangeResult struct {
	res mcp.InputResponse
	err error
}

func (ex *exchange) fail(reason string) {
	select {
	case ex.resp <- exchangeResult{err: errors.New(reason)}:
	default:
	}
}

// forward runs a request against backend b, handling multi round-trip in
// both directions. state is the requestState of a retry ("" on a first
// attempt).
func (g *Gateway) forward(ctx context.Context, b *backend, method, name string, ss *mcp.ServerSession, progress any, responses mcp.InputResponseMap, state string, call upcall) (mcp.Result, error) {
	if strings.HasPrefix(state, approvalPrefix) {
		// The answer to an approval no control asks for any more.
		state, responses = "", nil
	}
	if state != "" {
		p := g.pending.take(state)
		if p == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "requestState is unknown or expired; start the call again"}
		}
		if p.b != b || p.method != method || p.name != name || p.session != g.bindingSession(ss) || p.caller != g.callerOf(ctx, ss) {
			p.abandon("the retry did not match the original call")
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "requestState belongs to a different call"}
		}
		if p.live == nil {
			f := g.newFlight(ctx, b, method, name, ss, progress, call)
			f.start(responses, p.state)
			return f.drive(ctx)
		}
		f := p.live
		f.attach(ctx, ss, progress)
		for key, ex := range p.waiting {
			r, ok := responses[key]
			if !ok {
				ex.fail(fmt.Sprintf("the client did not answer input request %q", key))
				continue
			}
			ex.resp <- exchangeResult{res: r}
		}
		return f.drive(ctx)
	}
	f := g.newFlight(ctx, b, method, name, ss, progress, call)
	f.start(responses, "")
	return f.drive(ctx)
}

func (g *Gateway) newFlight(ctx context.Context, b *backend, method, name string, ss *mcp.ServerSession, progress any, call upcall) *flight {
	f := &flight{
		g: g, b: b, method: method, name: name, call: call,
		timeout: b.cfg.CallTimeout.D(),
		done:    make(chan flightResult, 1),
	}
	if c := callFrom(ctx); c != nil && c.Timeout > 0 {
		f.timeout = c.Timeout // a per-tool limit set by the policy
	}
	f.attach(ctx, ss, progress)
	// Only a 2025-era server can send server-to-client requests during a
	// call, and only a 2026-07-28 client needs them turned into a parked
	// multi round-trip. Every other call runs on the handler's goroutine
	// with the handler's context: cheaper, and cancelled with it.
	f.sync = !f.newProto || b.protocol() >= "2026-07-28"
	if f.sync {
		f.upCtx, f.cancel = context.WithCancel(ctx)
	} else {
		f.inputs = make(chan *exchange, 8)
		// The upstream call may outlive this downstream request, so it
		// gets its own context; drive passes cancellation on explicitly.
		f.upCtx, f.cancel = context.WithTimeout(context.WithoutCancel(ctx), f.timeout+g.mrtrTO)
	}
	g.flights.add(f)
	if progress != nil {
		f.upToken = "mcpw-" + strconv.FormatUint(f.id, 10)
		g.flights.setProgress(f.upToken, f)
	}
	return f
}

// attach binds the flight to the downstream request now waiting on it.
func (f *flight) attach(ctx context.Context, ss *mcp.ServerSession, progress any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ctx, f.ss = ctx, ss
	f.newProto = newProtocol(ss)
	if progress != nil {
		f.token = progress
	}
	f.session = f.g.bindingSession(ss)
	f.caller = f.g.callerOf(ctx, ss)
}

func (f *flight) downstream() (context.Context, *mcp.ServerSession, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctx, f.ss, f.newProto
}

func (f *flight) start(responses mcp.InputResponseMap, state string) {
	if f.sync {
		res, err := f.invoke(responses, state)
		f.done <- flightResult{res, err}
		return
	}
	f.g.inflight.Add(1)
	go func() {
		defer f.g.inflight.Done()
		res, err := f.invoke(responses, state)
		f.done <- flightResult{res, err}
	}()
}

func (f *flight) invoke(responses mcp.InputResponseMap, state string) (mcp.Result, error) {
	timeout := f.timeout
	ctx, cancel := context.WithTimeout(f.upCtx, timeout)
	defer cancel()
	cs, err := f.b.session(ctx)
	if err != nil {
		return nil, err
	}
	var progress any
	if f.upToken != "" {
		progress = f.upToken
	}
	end := f.b.beginCause(f.id, f.cause)
	res, err := f.call(ctx, cs, responses, state, progress)
	end()
	if err != nil {
		return nil, f.upstreamErr(ctx, err, timeout)
	}
	if progress != nil {
		f.b.settleProgress(ctx)
	}
	return res, nil
}

// cause describes the call for egress attribution.
func (f *flight) cause() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.method + " " + f.name
	if f.caller != "" {
		c += " by " + f.caller
	}
	if f.session != "" {
		c += " (session " + f.session + ")"
	}
	return c
}

// upstreamErr names the server in every failure that is not the server's
// own JSON-RPC error answer, which passes through unchanged.
func (f *flight) upstreamErr(ctx context.Context, err error, timeout time.Duration) error {
	var werr *jsonrpc.Error
	switch {
	case errors.As(err, &werr):
		return err
	case errors.Is(err, mcp.ErrConnectionClosed):
		return &upstreamError{server: f.b.name, msg: "exited or closed the connection while the call was in flight; it is being restarted"}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &upstreamError{server: f.b.name, msg: fmt.Sprintf("did not answer within %s", timeout)}
	case errors.Is(err, context.Canceled):
		return err
	default:
		return &upstreamError{server: f.b.name, msg: "failed", cause: err}
	}
}

// finish ends the flight for good.
func (f *flight) finish() {
	f.once.Do(func() {
		f.cancel()
		f.g.flights.remove(f)
	})
}

// drive waits for the upstream outcome on behalf of the downstream request
// in ctx, and turns input requests into whatever the client understands.
func (f *flight) drive(ctx context.Context) (mcp.Result, error) {
	g := f.g
	for {
		select {
		case r := <-f.done:
			if r.err != nil {
				f.finish()
				return nil, r.err
			}
			reqs, state, needs := inputRequired(r.res)
			if !needs {
				f.finish()
				return r.res, nil
			}
			f.rounds++
			if f.rounds > maxRounds {
				f.finish()
				return nil, &upstreamError{server: f.b.name, msg: fmt.Sprintf("asked for input more than %d times in one call", maxRounds)}
			}
			dctx, ss, newProto := f.downstream()
			if newProto {
				// A 2026-07-28 client answers by retrying; the server's
				// requestState is kept here and the client gets a token.
				tok := g.pending.put(&parked{b: f.b, method: f.method, name: f.name, session: f.session, caller: f.caller, state: state}, g.mrtrTO)
				f.finish()
				return withInputRequests(f.method, reqs, tok), nil
			}
			responses, err := g.fulfill(dctx, ss, f.b, reqs)
			if err != nil {
				f.finish()
				return nil, err
			}
			f.start(responses, state)
		case ex := <-f.inputs:
			// A 2025-era server sent a server-to-client request during
			// this call and the client speaks 2026-07-28: hand it the
			// request as input_required and park the live call.
			f.rounds++
			waiting := map[string]*exchange{ex.key: ex}
			reqs := mcp.InputRequestMap{ex.key: ex.req}
			for more := true; more; {
				select {
				case ex2 := <-f.inputs:
					waiting[ex2.key] = ex2
					reqs[ex2.key] = ex2.req
				default:
					more = false
				}
			}
			tok := g.pending.put(&parked{b: f.b, method: f.method, name: f.name, session: f.session, caller: f.caller, live: f, waiting: waiting}, g.mrtrTO)
			return withInputRequests(f.method, reqs, tok), nil
		case <-ctx.Done():
			f.finish()
			return nil, ctx.Err()
		}
	}
}

// fulfill answers a 2026-07-28 server's input requests by asking a
// 2025-era client directly, in the context of its pending request so the
// questions travel on that request's stream.
func (g *Gateway) fulfill(ctx context.Context, ss *mcp.ServerSession, b *backend, reqs mcp.InputRequestMap) (mcp.InputResponseMap, error) {
	out := make(mcp.InputResponseMap, len(reqs))
	for key, ir := range reqs {
		res, err := g.askClient(ctx, ss, b, ir)
		if err != nil {
			return nil, fmt.Errorf("input request %q from server %q: %w", key, b.name, err)
		}
		out[key] = res
	}
	return out, nil
}

// inputRequired reports whether res asks the client for input.
func inputRequired(res mcp.Result) (mcp.InputRequestMap, string, bool) {
	switch r := res.(type) {
	case *mcp.CallToolResult:
		return r.InputRequests, r.RequestState, r.NeedsInput() || r.InputRequests != nil
	case *mcp.GetPromptResult:
		return r.InputRequests, r.RequestState, r.NeedsInput() || r.InputRequests != nil
	case *mcp.ReadResourceResult:
		return r.InputRequests, r.RequestState, r.NeedsInput() || r.InputRequests != nil
	}
	return nil, "", false
}

func withInputRequests(method string, reqs mcp.InputRequestMap, tok string) mcp.Result {
	switch method {
	case "prompts/get":
		return &mcp.GetPromptResult{InputRequests: reqs, RequestState: tok}
	case "resources/read":
		return &mcp.ReadResourceResult{InputRequests: reqs, RequestState: tok}
	default:
		return &mcp.CallToolResult{InputRequests: reqs, RequestState: tok}
	}
}

func newProtocol(ss *mcp.ServerSession) bool {
	if ss == nil {
		return false
	}
	p := ss.InitializeParams()
	return p != nil && p.ProtocolVersion >= "2026-07-28"
}

// bindingSession is the session a parked exchange is bound to: the
// downstream session for 2025-era clients, none for stateless 2026-07-28
// requests, which each arrive on a fresh session and are bound to the
// caller alone.
func (g *Gateway) bindingSession(ss *mcp.ServerSession) string {
	if newProtocol(ss) {
		return ""
	}
	return g.sessions.id(ss)
}

func (g *Gateway) callerOf(ctx context.Context, ss *mcp.ServerSession) string {
	return callerBinding(callerFrom(ctx))
}

// callerBinding names a caller for binding a parked call or an approval
// to it: the subject with how it authenticated, so an API key named
// alice and a token whose subject is alice are different callers.
func callerBinding(id pipeline.Identity) string {
	if id.Subject == "" {
		return ""
	}
	return id.Method + ":" + id.Subject
}

// callTool forwards a tools/call to the backend's tool name.
func (g *Gateway) callTool(ctx context.Context, b *backend, name string, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	p := req.Params
	res, err := g.forward(ctx, b, "tools/call", name, req.Session, p.GetProgressToken(), p.InputResponses, p.RequestState,
		func(ctx context.Context, cs *mcp.ClientSession, responses mcp.InputResponseMap, state string, progress any) (mcp.Result, error) {
			up := &mcp.CallToolParams{Meta: upstreamMeta(p.Meta, progress), Name: name, Arguments: p.Arguments, InputResponses: responses, RequestState: state}
			return cs.CallTool(ctx, up)
		})
	if err != nil {
		if c := callFrom(ctx); c != nil {
			c.Set(MetaUpstreamError, err)
		}
		return toolFailure(err)
	}
	return res.(*mcp.CallToolResult), nil
}

// toolFailure reports upstream failures of a tools/call as a tool error,
// which agents show the model, while protocol errors from the server pass
// through as JSON-RPC errors.
func toolFailure(err error) (*mcp.CallToolResult, error) {
	var ue *upstreamError
	if errors.As(err, &ue) {
		r := &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}
		return r, nil
	}
	return nil, err
}

func (g *Gateway) getPrompt(ctx context.Context, b *backend, name string, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	p := req.Params
	res, err := g.forward(ctx, b, "prompts/get", name, req.Session, p.GetProgressToken(), p.InputResponses, p.RequestState,
		func(ctx context.Context, cs *mcp.ClientSession, responses mcp.InputResponseMap, state string, progress any) (mcp.Result, error) {
			up := &mcp.GetPromptParams{Meta: upstreamMeta(p.Meta, progress), Name: name, Arguments: p.Arguments, InputResponses: responses, RequestState: state}
			return cs.GetPrompt(ctx, up)
		})
	if err != nil {
		return nil, err
	}
	return res.(*mcp.GetPromptResult), nil
}

func (g *Gateway) readResource(ctx context.Context, b *backend, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	p := req.Params
	res, err := g.forward(ctx, b, "resources/read", p.URI, req.Session, p.GetProgressToken(), p.InputResponses, p.RequestState,
		func(ctx context.Context, cs *mcp.ClientSession, responses mcp.InputResponseMap, state string, progress any) (mcp.Result, error) {
			up := &mcp.ReadResourceParams{Meta: upstreamMeta(p.Meta, progress), URI: p.URI, InputResponses: responses, RequestState: state}
			return cs.ReadResource(ctx, up)
		})
	if err != nil {
		return nil, err
	}
	return res.(*mcp.ReadResourceResult), nil
}

// upstreamMeta copies the client's _meta for the upstream request, minus
// the protocol keys the go-sdk client sets itself, with the progress token
// replaced by the gateway's own.
func upstreamMeta(m mcp.Meta, progress any) mcp.Meta {
	if len(m) == 0 && progress == nil {
		return nil
	}
	out := make(mcp.Meta, len(m)+1)
	for k, v := range m {
		switch k {
		case "progressToken", mcp.MetaKeyProtocolVersion, mcp.MetaKeyClientCapabilities, mcp.MetaKeyClientInfo, "io.modelcontextprotocol/logLevel":
			continue
		}
		out[k] = v
	}
	if progress != nil {
		out["progressToken"] = progress
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
