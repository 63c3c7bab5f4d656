//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/pipeline"
)

// newClient builds the go-sdk client the gateway uses towards backend b.
// It advertises every client capability the gateway can relay (sampling,
// elicitation, roots), and routes what the server sends to the right
// downstream client.
func (g *Gateway) newClient(b *backend) *mcp.Client {
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden", Title: "mcpwarden gateway", Version: g.opts.Version}, &mcp.ClientOptions{
		Logger: g.log.With("server", b.name, "side", "upstream"),
		Capabilities: &mcp.ClientCapabilities{
			RootsV2:     &mcp.RootCapabilities{ListChanged: true},
			Sampling:    &mcp.SamplingCapabilities{Tools: &mcp.SamplingToolsCapabilities{}, Context: &mcp.SamplingContextCapabilities{}},
			Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{}},
		},
		// The gateway relays input_required results itself, so that the
		// client's own revision decides how the question is asked.
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
		ToolListChangedHandler: func(ctx context.Context, _ *mcp.ToolListChangedRequest) {
			g.onListChanged(b, kindTools)
		},
		PromptListChangedHandler: func(ctx context.Context, _ *mcp.PromptListChangedRequest) {
			g.onListChanged(b, kindPrompts)
		},
		ResourceListChangedHandler: func(ctx context.Context, _ *mcp.ResourceListChangedRequest) {
			g.onListChanged(b, kindResources|kindTemplates)
		},
		ResourceUpdatedHandler: func(ctx context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			if owner, ok := g.subs.ownerOf(req.Params.URI); ok && owner != b.name {
				b.log.Warn("dropped resources/updated for a URI the server does not own", "uri", req.Params.URI, "owner", owner)
				return
			}
			_ = g.srv.ResourceUpdated(context.WithoutCancel(ctx), req.Params)
		},
		LoggingMessageHandler: func(ctx context.Context, req *mcp.LoggingMessageRequest) {
			g.relayLog(ctx, b, req.Params)
		},
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			g.relayProgress(ctx, b, req.Params)
		},
	})
	c.AddReceivingMiddleware(g.upstreamMiddleware(b))
	return c
}

// upstreamMiddleware sees everything a server sends the gateway. Requests
// (sampling, elicitation, roots) are routed to the client whose call caused
// them; notifications cross the pipeline and may be dropped.
func (g *Gateway) upstreamMiddleware(b *backend) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			switch method {
			case "sampling/createMessage", "elicitation/create", "roots/list":
				return g.serverToClient(ctx, b, method, req)
			}
			if isNotification(method) && g.chain.Len() > 0 {
				n := &pipeline.Note{Direction: pipeline.ToClient, Method: method, Server: b.name, Params: marshalParams(req.GetParams())}
				if err := g.chain.Notification(ctx, n); err != nil {
					logDenial(b.log, "dropped notification from server", method, err)
					if method == "notifications/progress" {
						b.progressHandled()
					}
					return nil, nil
				}
			}
			return next(ctx, method, req)
		}
	}
}

// onListChanged re-lists the changed features in the background: the
// notification handler must not block the connection's reader.
func (g *Gateway) onListChanged(b *backend, kinds listKind) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout.D())
		defer cancel()
		cs, err := b.session(ctx)
		if err != nil {
			return
		}
		if err := b.refresh(ctx, cs, kinds); err != nil {
			b.log.Warn("re-listing after list_changed failed", "err", err)
		}
	}()
}

// serverToClient routes a server-to-client request. It goes to the
// downstream call in flight on this server, and only when that call is the
// only one: a request that cannot be attributed to exactly one client is
// refused rather than risk sending one client's question, or data, to
// another.
func (g *Gateway) serverToClient(ctx context.Context, b *backend, method string, req mcp.Request) (mcp.Result, error) {
	if g.closing.Err() != nil {
		return nil, errShuttingDown
	}
	// Params may be absent on the wire (roots/list has none), which the
	// go-sdk delivers as a typed nil.
	var ir mcp.InputRequest
	switch p := req.GetParams().(type) {
	case *mcp.CreateMessageWithToolsParams:
		if p == nil {
			p = &mcp.CreateMessageWithToolsParams{}
		}
		ir = p
	case *mcp.ElicitParams:
		if p == nil {
			p = &mcp.ElicitParams{}
		}
		ir = p
	case *mcp.ListRootsParams:
		if p == nil {
			p = &mcp.ListRootsParams{}
		}
		ir = p
	default:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unexpected params %T for %s", p, method)}
	}

	var (
		f    *flight
		ss   *mcp.ServerSession
		dctx = ctx
	)
	switch flights := g.flights.on(b); len(flights) {
	case 1:
		f = flights[0]
		dctx, ss, _ = f.downstream()
	case 0:
		// Outside any call (roots/list after initialization, say): only
		// unambiguous when exactly one stateful client is connected.
		ss = g.soleSession()
		if ss == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("mcpwarden cannot attribute this %s request to a single client (no call from one client is in flight); refused", method)}
		}
	default:
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("mcpwarden cannot attribute this %s request to a single client (%d calls are in flight on this server); refused rather than risk asking the wrong client", method, len(flights))}
	}

	call := &pipeline.Call{
		Session:   g.sessions.id(ss),
		Revision:  revision(ss),
		Caller:    callerFrom(dctx),
		Direction: pipeline.ToClient,
		Method:    method,
		Server:    b.name,
		Params:    marshalParams(ir),
	}
	orig := call.Params
	if f != nil {
		call.Name = f.name
	}
	call.Start = time.Now()
	if err := g.chain.Request(ctx, call); err != nil {
		g.chain.Finish(ctx, call, nil, err)
		logDenial(b.log, "refused server-to-client request", method, err)
		d, _ := pipeline.AsDenial(err)
		return nil, &jsonrpc.Error{Code: codeFor(d), Message: d.Reason}
	}
	if !sameBytes(call.Params, orig) {
		if err := unmarshalInto(call.Params, ir); err != nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "an interceptor rewrote the request into something invalid: " + err.Error()}
		}
	}

	var res mcp.InputResponse
	var err error
	if f != nil && newProtocol(ss) && f.inputs == nil {
		err := fmt.Errorf("server %q sent %s during a call although it negotiated a revision without server-to-client requests", b.name, method)
		g.chain.Finish(ctx, call, nil, err)
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: err.Error()}
	}
	if f != nil && newProtocol(ss) {
		ex := &exchange{key: fmt.Sprintf("s2c-%d-%d", f.id, f.rounds+1), req: ir, resp: make(chan exchangeResult, 1)}
		select {
		case f.inputs <- ex:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-g.closing.Done():
			return nil, errShuttingDown
		}
		select {
		case r := <-ex.resp:
			res, err = r.res, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-g.closing.Done():
			return nil, errShuttingDown
		}
	} else {
		// A client that never answers (it went away, or ignores the
		// request) must not hold the upstream's handler forever: closing
		// the upstream connection waits for its handlers.
		actx, cancel := g.askContext(dctx, ctx, b)
		res, err = g.askClient(actx, ss, b, ir)
		cancel()
		if err != nil && g.closing.Err() != nil {
			err = errShuttingDown
		}
	}
	if err != nil {
		g.chain.Finish(ctx, call, nil, err)
		return nil, err
	}
	out, err := g.chain.Response(ctx, call, marshalParams(res))
	g.chain.Finish(ctx, call, out, err)
	if err != nil {
		d, _ := pipeline.AsDenial(err)
		return nil, &jsonrpc.Error{Code: codeFor(d), Message: d.Reason}
	}
	return decodeInputResponse(method, out)
}

var errShuttingDown = &jsonrpc.Error{Code: codeShuttingDown, Message: "mcpwarden is shutting down"}

// askContext derives, from the downstream request's ctx, the context of a
// server-to-client request: bounded by the server's call timeout, and
// ended when the upstream gives up on its request (up) or the gateway
// closes.
func (g *Gateway) askContext(ctx, up context.Context, b *backend) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout.D())
	stopClosing := context.AfterFunc(g.closing, cancel)
	stopUp := context.AfterFunc(up, cancel)
	return ctx, func() { stopClosing(); stopUp(); cancel() }
}

// askClient puts one input request to a 2025-era client as a
// server-to-client request.
func (g *Gateway) askClient(ctx context.Context, ss *mcp.ServerSession, b *backend, ir mcp.InputRequest) (mcp.InputResponse, error) {
	if ss == nil {
		return nil, errors.New("no client to ask")
	}
	switch p := ir.(type) {
	case *mcp.ElicitParams:
		return ss.Elicit(ctx, p)
	case *mcp.CreateMessageWithToolsParams:
		return ss.CreateMessageWithTools(ctx, p)
	case *mcp.CreateMessageParams:
		return ss.CreateMessageWithTools(ctx, samplingWithTools(p))
	case *mcp.ListRootsParams:
		return ss.ListRoots(ctx, p)
	}
	return nil, fmt.Errorf("server %q sent an input request of unknown type %T", b.name, ir)
}

func samplingWithTools(p *mcp.CreateMessageParams) *mcp.CreateMessageWithToolsParams {
	msgs := make([]*mcp.SamplingMessageV2, 0, len(p.Messages))
	for _, m := range p.Messages {
		msgs = append(msgs, &mcp.SamplingMessageV2{Role: m.Role, Content: []mcp.Content{m.Content}})
	}
	return &mcp.CreateMessageWithToolsParams{
		Meta: p.Meta, IncludeContext: p.IncludeContext, MaxTokens: p.MaxTokens, Messages: msgs,
		Metadata: p.Metadata, ModelPreferences: p.ModelPreferences, StopSequences: p.StopSequences,
		SystemPrompt: p.SystemPrompt, Temperature: p.Temperature,
	}
}

func decodeInputResponse(method string, raw []byte) (mcp.Result, error) {
	var r mcp.Result
	switch method {
	case "sampling/createMessage":
		r = new(mcp.CreateMessageWithToolsResult)
	case "elicitation/create":
		r = new(mcp.ElicitResult)
	default:
		r = new(mcp.ListRootsResult)
	}
	if err := unmarshalInto(raw, r); err != nil {
		return nil, err
	}
	return r, nil
}

// soleSession returns the only stateful downstream session, or nil.
func (g *Gateway) soleSession() *mcp.ServerSession {
	var only *mcp.ServerSession
	for ss := range g.srv.Sessions() {
		if newProtocol(ss) || ss.InitializeParams() == nil {
			continue
		}
		if only != nil {
			return nil
		}
		only = ss
	}
	return only
}

// relayProgress maps a server's progress notification back to the client
// whose call it is about.
func (g *Gateway) relayProgress(ctx context.Context, b *backend, p *mcp.ProgressNotificationParams) {
	defer b.progressHandled()
	tok, _ := p.ProgressToken.(string)
	f := g.flights.byProgress(tok)
	if f == nil || f.b != b {
		b.log.Debug("dropped progress for an unknown or foreign token", "token", p.ProgressToken)
		return
	}
	dctx, ss, _ := f.downstream()
	f.mu.Lock()
	orig := f.token
	f.mu.Unlock()
	out := *p
	out.ProgressToken = orig
	if err := ss.NotifyProgress(dctx, &out); err != nil {
		b.log.Debug("relaying progress failed", "err", err)
	}
}

// relayLog forwards a server's log message to the client whose call is in
// flight on that server, or, outside calls, to every client that asked
// for logs. Each session's own level filter applies.
func (g *Gateway) relayLog(ctx context.Context, b *backend, p *mcp.LoggingMessageParams) {
	out := *p
	if out.Logger == "" {
		out.Logger = b.name
	} else {
		out.Logger = b.name + "/" + out.Logger
	}
	if flights := g.flights.on(b); len(flights) == 1 {
		dctx, ss, _ := flights[0].downstream()
		_ = ss.Log(dctx, &out)
		return
	}
	for ss := range g.srv.Sessions() {
		if ss.InitializeParams() == nil || newProtocol(ss) {
			continue
		}
		_ = ss.Log(context.WithoutCancel(ctx), &out)
	}
}
