//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"

	"mcpwarden/internal/pipeline"
)

// newServer builds the downstream go-sdk server. Its tool, prompt and
// resource registries mirror the backends' catalogs (see catalog.go), so
// the SDK handles pagination, list_changed and subscriptions for both
// revisions; the middleware puts the pipeline around every message.
func (g *Gateway) newServer() *mcp.Server {
	s := mcp.NewServer(g.impl, &mcp.ServerOptions{
		Logger:   g.log.With("side", "downstream"),
		PageSize: g.opts.PageSize,
		Capabilities: &mcp.ServerCapabilities{
			Tools:       &mcp.ToolCapabilities{ListChanged: true},
			Prompts:     &mcp.PromptCapabilities{ListChanged: true},
			Resources:   &mcp.ResourceCapabilities{ListChanged: true, Subscribe: true},
			Logging:     &mcp.LoggingCapabilities{},
			Completions: &mcp.CompletionCapabilities{},
		},
		CompletionHandler:  g.complete,
		SubscribeHandler:   g.subscribe,
		UnsubscribeHandler: g.unsubscribe,
		// Lists differ per caller once authorization filters them, so no
		// shared cache may serve one caller's list to another.
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.CacheScope = "private"
		},
	})
	s.AddReceivingMiddleware(g.downstreamMiddleware)
	return s
}

type callerKey struct{}
type callKey struct{}

func callerFrom(ctx context.Context) pipeline.Identity {
	if id, ok := ctx.Value(callerKey{}).(pipeline.Identity); ok {
		return id
	}
	if c := callFrom(ctx); c != nil {
		return c.Caller // the fast path stores only the call
	}
	return pipeline.Identity{}
}

// callFrom returns the pipeline call the request in ctx belongs to, so
// handlers can record upstream errors for the Finishers (audit).
func callFrom(ctx context.Context) *pipeline.Call {
	c, _ := ctx.Value(callKey{}).(*pipeline.Call)
	return c
}

// MetaUpstreamError is the [pipeline.Call] Meta key under which the
// gateway records an upstream failure that was turned into a tool error.
const MetaUpstreamError = "gateway.upstream_error"

func (g *Gateway) downstreamMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		ss, _ := req.GetSession().(*mcp.ServerSession)
		var id pipeline.Identity
		if g.ident != nil {
			id = g.ident(ctx, req.GetExtra())
		}
		ctx = context.WithValue(ctx, callerKey{}, id)

		if isNotification(method) {
			if g.chain.Len() > 0 {
				n := &pipeline.Note{Session: g.sessions.id(ss), Revision: revision(ss), Caller: id, Direction: pipeline.ToServer, Method: method, Params: marshalParams(req.GetParams())}
				if err := g.chain.Notification(ctx, n); err != nil {
					logDenial(g.log, "dropped notification from client", method, err)
					return nil, nil
				}
			}
			res, err := next(ctx, method, req)
			switch method {
			case "notifications/initialized":
				// Servers ask for roots when they start, often before any
				// client is connected; now there is one to ask.
				if p := ss.InitializeParams(); p != nil && p.Capabilities != nil && (p.Capabilities.RootsV2 != nil || p.Capabilities.Roots.ListChanged) {
					g.rootsChanged()
				}
			case "notifications/roots/list_changed":
				g.rootsChanged()
			}
			return res, err
		}
		if g.draining.Load() && method != "ping" {
			return nil, &jsonrpc.Error{Code: codeShuttingDown, Message: "mcpwarden is shutting down and accepts no new requests"}
		}
		g.inflight.Add(1)
		defer g.inflight.Done()
		if waitsForCatalog(method) {
			g.awaitFirstAttempt(ctx)
		}

		call := &pipeline.Call{
			Session:   g.sessions.id(ss),
			Revision:  revision(ss),
			Caller:    id,
			Direction: pipeline.ToServer,
			Method:    method,
			Start:     time.Now(),
			Catalog:   lookup{g},
		}
		g.route(call, req.GetParams())
		ctx = context.WithValue(ctx, callKey{}, call)
		next := func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "logging/setLevel" {
				g.propagateLogLevel(req.GetParams())
			}
			return next(ctx, method, req)
		}
		if g.chain.Len() == 0 {
			res, err := next(ctx, method, req)
			return g.decorate(method, res), err
		}

		orig := marshalParams(req.GetParams())
		call.Params = orig
		if err := g.chain.Request(ctx, call); err != nil {
			need, ok := err.(*pipeline.ApprovalNeeded)
			if !ok {
				g.chain.Finish(ctx, call, nil, err)
				return denialResult(method, err)
			}
			ask, d := g.settleApproval(ctx, ss, call, method, req.GetParams(), need)
			switch {
			case ask != nil:
				// The question goes to the client; the retry carries the answer.
				g.chain.Finish(ctx, call, marshalParams(ask), nil)
				return ask, nil
			case d != nil:
				g.chain.Finish(ctx, call, nil, d)
				return denialResult(method, d)
			}
			orig = marshalParams(req.GetParams()) // the approval fields were cleared
			call.Params = orig
		}
		if !sameBytes(call.Params, orig) {
			if err := unmarshalInto(call.Params, req.GetParams()); err != nil {
				err = fmt.Errorf("an interceptor rewrote the request into something invalid: %w", err)
				g.chain.Finish(ctx, call, nil, err)
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
			}
		}

		res, err := next(ctx, method, req)
		if err != nil {
			g.chain.Finish(ctx, call, nil, err)
			return nil, err
		}
		res = g.decorate(method, res)
		raw := marshalParams(res)
		out, err := g.chain.Response(ctx, call, raw)
		if err != nil {
			g.chain.Finish(ctx, call, nil, err)
			return denialResult(method, err)
		}
		if !sameBytes(out, raw) {
			rewritten, err := remake(res, out)
			if err != nil {
				err = fmt.Errorf("an interceptor rewrote the result into something invalid: %w", err)
				g.chain.Finish(ctx, call, nil, err)
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
			}
			res = rewritten
		}
		var upErr error
		if e, ok := call.Meta[MetaUpstreamError].(error); ok {
			upErr = e
		}
		g.chain.Finish(ctx, call, out, upErr)
		return res, nil
	}
}

// waitsForCatalog reports whether a method's answer depends on the
// upstream catalogs, so that a client connecting while servers are still
// starting gets their tools and instructions rather than an empty list.
func waitsForCatalog(method string) bool {
	switch method {
	case "initialize", "server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		return true
	}
	return false
}

// awaitFirstAttempt waits until every backend has connected or failed
// once. After startup it returns at once.
func (g *Gateway) awaitFirstAttempt(ctx context.Context) {
	for _, b := range g.backends {
		select {
		case <-b.firstAttempt:
		case <-ctx.Done():
			return
		}
	}
}

// decorate fills in what only the gateway knows: the instructions of the
// servers behind it.
func (g *Gateway) decorate(method string, res mcp.Result) mcp.Result {
	switch r := res.(type) {
	case *mcp.InitializeResult:
		r.Instructions = g.instructions()
	case *mcp.DiscoverResult:
		r.Instructions = g.instructions()
	}
	return res
}

// instructions joins the upstream servers' instructions, each under its
// server's name so the model knows which tools they are about.
func (g *Gateway) instructions() string {
	var b strings.Builder
	for _, be := range g.backends {
		text := strings.TrimSpace(be.instructions())
		if text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		if g.opts.Flat {
			b.WriteString(text)
			continue
		}
		fmt.Fprintf(&b, "Instructions from server %q (its tools and prompts are named %s%s*):\n%s", be.name, be.name, g.sep, text)
	}
	return b.String()
}

// route fills in which server and which tool, prompt or resource a
// request is about.
func (g *Gateway) route(c *pipeline.Call, params mcp.Params) {
	switch p := params.(type) {
	case *mcp.CallToolParamsRaw:
		c.Server, c.Name, _ = g.split(p.Name)
	case *mcp.CallToolParams:
		c.Server, c.Name, _ = g.split(p.Name)
	case *mcp.GetPromptParams:
		c.Server, c.Name, _ = g.split(p.Name)
	case *mcp.ReadResourceParams:
		c.Server, c.Name = g.resourceOwner(p.URI), p.URI
	case *mcp.SubscribeParams:
		c.Server, c.Name = g.resourceOwner(p.URI), p.URI
	case *mcp.UnsubscribeParams:
		c.Server, c.Name = g.resourceOwner(p.URI), p.URI
	case *mcp.CompleteParams:
		if p.Ref != nil {
			if p.Ref.Type == "ref/prompt" {
				c.Server, c.Name, _ = g.split(p.Ref.Name)
			} else {
				c.Server, c.Name = g.resourceOwner(p.Ref.URI), p.Ref.URI
			}
		}
	}
}

// resourceOwner finds the backend that listed uri, or whose resource
// template matches it.
func (g *Gateway) resourceOwner(uri string) string {
	if o, ok := g.subs.ownerOf(uri); ok {
		return o
	}
	if o, ok := g.subs.ownerOf("template:" + uri); ok {
		return o // a completion reference names the template itself
	}
	for _, b := range g.backends {
		b.refreshMu.Lock()
		tmpls := b.cat.templates
		b.refreshMu.Unlock()
		for t := range tmpls {
			ut, err := uritemplate.New(t)
			if err == nil && ut.Regexp().MatchString(uri) {
				return b.name
			}
		}
	}
	return ""
}

func (g *Gateway) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	c := callFrom(ctx)
	if c == nil || c.Server == "" {
		return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{}}}, nil
	}
	b, _ := g.backend(c.Server)
	cs, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	p := *req.Params
	if p.Ref != nil && p.Ref.Type == "ref/prompt" {
		ref := *p.Ref
		ref.Name = c.Name
		p.Ref = &ref
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout.D())
	defer cancel()
	return cs.Complete(ctx, &p)
}

func (g *Gateway) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	b, err := g.resourceBackend(req.Params.URI)
	if err != nil {
		return err
	}
	if !g.subs.inc(req.Params.URI) {
		return nil // already subscribed upstream for another client
	}
	cs, err := b.session(ctx)
	if err == nil {
		err = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: req.Params.URI})
	}
	if err != nil {
		g.subs.dec(req.Params.URI)
		return fmt.Errorf("subscribing upstream at %q: %w", b.name, err)
	}
	return nil
}

func (g *Gateway) unsubscribe(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	b, err := g.resourceBackend(req.Params.URI)
	if err != nil {
		return err
	}
	if !g.subs.dec(req.Params.URI) {
		return nil
	}
	cs, err := b.session(ctx)
	if err != nil {
		return err
	}
	return cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: req.Params.URI})
}

func (g *Gateway) resourceBackend(uri string) (*backend, error) {
	name := g.resourceOwner(uri)
	b, ok := g.backend(name)
	if !ok {
		return nil, &jsonrpc.Error{Code: codeResourceNotFound, Message: fmt.Sprintf("no server behind mcpwarden lists the resource %q", uri)}
	}
	return b, nil
}

func (g *Gateway) rootsChanged() {
	for _, b := range g.backends {
		b.rootsChanged()
	}
}

// propagateLogLevel sets the level on every upstream server that
// supports logging, before the client's setLevel returns, so messages
// logged by the next call are already filtered at the right level.
func (g *Gateway) propagateLogLevel(params mcp.Params) {
	p, ok := params.(*mcp.SetLoggingLevelParams)
	if !ok || p == nil {
		return
	}
	var wg sync.WaitGroup
	for _, b := range g.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if cs, err := b.session(ctx); err == nil {
				if caps := cs.InitializeResult().Capabilities; caps != nil && caps.Logging != nil {
					if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: p.Level}); err != nil {
						b.log.Warn("setting the log level upstream failed", "err", err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// JSON-RPC codes the gateway answers with.
const (
	codeShuttingDown     = -32000
	codeResourceNotFound = -32002
)

// denialResult turns a chain denial into what the agent sees: a tool
// error for tools/call, which the model reads, and a JSON-RPC error for
// everything else.
func denialResult(method string, err error) (mcp.Result, error) {
	d, ok := pipeline.AsDenial(err)
	if !ok {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: err.Error()}
	}
	text := fmt.Sprintf("mcpwarden denied this request (rule %s): %s", d.Rule, d.Reason)
	if method == "tools/call" {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
	}
	data, _ := json.Marshal(map[string]string{"rule": d.Rule, "reason": d.Reason})
	return nil, &jsonrpc.Error{Code: codeFor(d), Message: text, Data: data}
}

func codeFor(d *pipeline.Denial) int64 {
	if d != nil && d.Code != 0 {
		return d.Code
	}
	return pipeline.CodeDenied
}

func logDenial(log *slog.Logger, msg, method string, err error) {
	if d, ok := pipeline.AsDenial(err); ok {
		log.Warn(msg, "method", method, "rule", d.Rule, "reason", d.Reason, "interceptor", d.Interceptor)
		return
	}
	log.Warn(msg, "method", method, "err", err)
}

func isNotification(method string) bool { return strings.HasPrefix(method, "notifications/") }

func revision(ss *mcp.ServerSession) string {
	if ss == nil {
		return ""
	}
	if p := ss.InitializeParams(); p != nil {
		return p.ProtocolVersion
	}
	return ""
}

func marshalParams(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func unmarshalInto(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding %T: %w", v, err)
	}
	return nil
}

// remake decodes raw into a fresh value of res's type.
func remake(res mcp.Result, raw []byte) (mcp.Result, error) {
	var out mcp.Result
	switch res.(type) {
	case *mcp.CallToolResult:
		out = new(mcp.CallToolResult)
	case *mcp.GetPromptResult:
		out = new(mcp.GetPromptResult)
	case *mcp.ReadResourceResult:
		out = new(mcp.ReadResourceResult)
	case *mcp.ListToolsResult:
		out = new(mcp.ListToolsResult)
	case *mcp.ListPromptsResult:
		out = new(mcp.ListPromptsResult)
	case *mcp.ListResourcesResult:
		out = new(mcp.ListResourcesResult)
	case *mcp.ListResourceTemplatesResult:
		out = new(mcp.ListResourceTemplatesResult)
	case *mcp.CompleteResult:
		out = new(mcp.CompleteResult)
	case *mcp.InitializeResult:
		out = new(mcp.InitializeResult)
	case *mcp.DiscoverResult:
		out = new(mcp.DiscoverResult)
	default:
		return nil, fmt.Errorf("results of type %T cannot be rewritten", res)
	}
	if err := unmarshalInto(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}
