package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/pipeline"
)

// approvalKey is the input request key of an approval question.
const approvalKey = "mcpwarden-approval"

// approvalPrefix marks requestState tokens that answer an approval
// question, as opposed to tokens of a forwarded multi round-trip.
const approvalPrefix = "mcpw1a."

// approvals holds approval questions put to 2026-07-28 clients, which
// answer by retrying the request with the answer attached. A token is
// bound to the caller and to the exact request, single use, and expires.
type approvals struct {
	mu sync.Mutex
	m  map[string]approvalBinding
}

type approvalBinding struct {
	caller, session, method, server, name, digest string
	expires                                       time.Time
}

func (a *approvals) put(b approvalBinding) string {
	tok := approvalPrefix + rand.Text()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[string]approvalBinding)
	}
	now := time.Now()
	for k, v := range a.m {
		if now.After(v.expires) {
			delete(a.m, k)
		}
	}
	a.m[tok] = b
	return tok
}

func (a *approvals) take(tok string) (approvalBinding, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.m[tok]
	delete(a.m, tok)
	if ok && time.Now().After(b.expires) {
		return b, false
	}
	return b, ok
}

// requestDigest identifies what a request asks for, without the fields a
// multi round-trip retry changes, so an approval cannot be replayed for
// different arguments.
func requestDigest(method string, params mcp.Params) string {
	var what any
	switch p := params.(type) {
	case *mcp.CallToolParamsRaw:
		what = []any{method, p.Name, json.RawMessage(orNull(p.Arguments))}
	case *mcp.GetPromptParams:
		what = []any{method, p.Name, p.Arguments}
	case *mcp.ReadResourceParams:
		what = []any{method, p.URI}
	default:
		what = []any{method, params}
	}
	b, _ := json.Marshal(what)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// retryState returns the requestState and input responses of a request,
// for the methods that can carry them.
func retryState(params mcp.Params) (string, mcp.InputResponseMap, func()) {
	switch p := params.(type) {
	case *mcp.CallToolParamsRaw:
		return p.RequestState, p.InputResponses, func() { p.RequestState, p.InputResponses = "", nil }
	case *mcp.GetPromptParams:
		return p.RequestState, p.InputResponses, func() { p.RequestState, p.InputResponses = "", nil }
	case *mcp.ReadResourceParams:
		return p.RequestState, p.InputResponses, func() { p.RequestState, p.InputResponses = "", nil }
	}
	return "", nil, func() {}
}

// approve asks the human behind the client whether the request may
// proceed. It returns a non-nil result when the question goes back as an
// input_required result (2026-07-28 clients), to be returned as is.
func (g *Gateway) approve(ctx context.Context, ss *mcp.ServerSession, c *pipeline.Call, method string, params mcp.Params, need *pipeline.ApprovalNeeded) (approved bool, how string, res mcp.Result, err error) {
	rules := make([]string, len(need.Asks))
	for i, a := range need.Asks {
		rules[i] = a.Rule
	}
	binding := approvalBinding{
		caller: callerBinding(c.Caller), session: g.bindingSession(ss), method: method,
		server: c.Server, name: c.Name, digest: requestDigest(method, params),
	}

	// A 2026-07-28 client answering an earlier question.
	if state, responses, clear := retryState(params); strings.HasPrefix(state, approvalPrefix) {
		b, ok := g.approvalsAsked.take(state)
		clear()
		b.expires = binding.expires
		if !ok || b != binding {
			return false, "declined", nil, nil
		}
		r, _ := responses[approvalKey].(*mcp.ElicitResult)
		return elicitedYes(r), "input_required", nil, nil
	}

	caps := clientCaps(ss)
	if caps == nil || caps.Elicitation == nil {
		return false, "unavailable", nil, nil
	}
	q := approvalQuestion(c, need)
	if newProtocol(ss) {
		if method != "tools/call" && method != "prompts/get" && method != "resources/read" {
			return false, "unavailable", nil, nil
		}
		binding.expires = time.Now().Add(g.mrtrTO)
		tok := g.approvalsAsked.put(binding)
		return false, "asked", withInputRequests(method, mcp.InputRequestMap{approvalKey: q}, tok), nil
	}
	r, err := ss.Elicit(ctx, q)
	if err != nil {
		return false, "unavailable", nil, fmt.Errorf("asking the client for approval: %w", err)
	}
	return elicitedYes(r), "elicitation", nil, nil
}

func elicitedYes(r *mcp.ElicitResult) bool {
	if r == nil || r.Action != "accept" {
		return false
	}
	yes, _ := r.Content["approve"].(bool)
	return yes
}

func clientCaps(ss *mcp.ServerSession) *mcp.ClientCapabilities {
	if ss == nil {
		return nil
	}
	if p := ss.InitializeParams(); p != nil {
		return p.Capabilities
	}
	return nil
}

// approvalQuestion is what the user is asked. The arguments are shown so
// the user approves this call, not the tool in general.
func approvalQuestion(c *pipeline.Call, need *pipeline.ApprovalNeeded) *mcp.ElicitParams {
	var b strings.Builder
	b.WriteString("mcpwarden asks for your approval.\n")
	for _, a := range need.Asks {
		fmt.Fprintf(&b, "- %s (rule %s)\n", a.Reason, a.Rule)
	}
	what := c.Method
	if c.Server != "" {
		what += " " + c.Server + "/" + c.Name
	}
	fmt.Fprintf(&b, "Request: %s\n", what)
	if args := argumentsOf(c.Params); args != "" {
		fmt.Fprintf(&b, "Arguments: %s\n", args)
	}
	b.WriteString("Allow it?")
	return &mcp.ElicitParams{
		Message: b.String(),
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"approve": map[string]any{"type": "boolean", "title": "Allow this request", "description": "Yes lets this one request through; no denies it."},
			},
			"required": []string{"approve"},
		},
	}
}

func argumentsOf(params json.RawMessage) string {
	var p struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.Arguments) == 0 {
		return ""
	}
	s := string(p.Arguments)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// settleApproval asks for an approval the chain needs and records the
// answer in the call for the audit log. It returns the input_required
// result to send when the question goes back to a 2026-07-28 client, or
// the denial when the request may not proceed; both nil means approved.
func (g *Gateway) settleApproval(ctx context.Context, ss *mcp.ServerSession, c *pipeline.Call, method string, params mcp.Params, need *pipeline.ApprovalNeeded) (ask mcp.Result, denial *pipeline.Denial) {
	approved, how, ask, err := g.approve(ctx, ss, c, method, params, need)
	rules := make([]string, len(need.Asks))
	for i, a := range need.Asks {
		rules[i] = a.Rule
	}
	c.Set(pipeline.MetaApproval, pipeline.Approval{Rules: rules, Approved: approved, How: how})
	switch {
	case ask != nil:
		return ask, nil
	case err != nil:
		return nil, need.Denial("the client could not be asked: " + err.Error())
	case how == "unavailable":
		return nil, need.Denial("it needs a human's approval and this client cannot ask (it does not support elicitation)")
	case !approved:
		return nil, need.Denial("the user did not approve it")
	}
	g.log.Info("request approved by the user", "method", method, "server", c.Server, "name", c.Name, "rules", rules, "via", how)
	return nil, nil
}
