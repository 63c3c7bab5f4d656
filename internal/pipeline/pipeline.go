// Package pipeline defines the contract between the gateway and its security
// controls. Every MCP message that crosses mcpwarden, in either direction,
// is presented to an ordered [Chain] of interceptors that may allow it, deny
// it with a reason, or rewrite it.
//
// The gateway owns transports and sessions; controls (argument validation,
// sanitization, authorization, audit, ...) implement [Interceptor] and the
// optional [ResponseInterceptor] and [NotificationInterceptor]. Controls
// never import the gateway: they see only the types in this package.
//
// A control that cannot decide (its store is down, its policy failed to
// evaluate) returns an error. The chain treats every error as a denial:
// mcpwarden fails closed.
package pipeline

import (
	"context"
	"encoding/json"
	"time"
)

// Direction tells which way a message travels.
type Direction uint8

const (
	// ToServer is a message from an agent (downstream client) to an MCP
	// server (upstream).
	ToServer Direction = iota + 1
	// ToClient is a message from an MCP server to the agent: a
	// server-to-client request such as sampling/createMessage, or a
	// notification.
	ToClient
)

func (d Direction) String() string {
	switch d {
	case ToServer:
		return "to_server"
	case ToClient:
		return "to_client"
	}
	return "unknown"
}

// Identity is the authenticated caller. The zero value is an anonymous
// caller; controls that need an identity must deny it explicitly.
type Identity struct {
	Subject string         // stable caller ID: JWT sub, API key name
	Method  string         // how the caller was authenticated: "", "api_key", "jwt", "stdio"
	Groups  []string       // group or role claims
	Claims  map[string]any // every verified claim, for policy expressions
}

// Anonymous reports whether the caller was not authenticated.
func (id Identity) Anonymous() bool { return id.Subject == "" }

// Call is one request crossing the gateway, with everything a control needs
// to decide about it. Interceptors may rewrite Params in place; later
// interceptors and the upstream see the rewritten value.
//
// A Call is used by one goroutine at a time: the chain runs interceptors in
// sequence.
type Call struct {
	ID        string    // JSON-RPC request ID, as text
	Session   string    // downstream session ID ("" for stateless requests)
	Revision  string    // MCP protocol revision the caller speaks, e.g. "2025-11-25"
	Caller    Identity  // who is calling (empty until authentication lands)
	Direction Direction // ToServer for agent requests, ToClient for server-to-client requests
	Method    string    // JSON-RPC method, e.g. "tools/call"

	// Server is the configured name of the upstream server the call is
	// routed to, and Name is the tool or prompt name as that server knows it
	// (without the gateway's namespace prefix), or the resource URI.
	// Both are empty for methods that are not routed to one server
	// (initialize, tools/list across servers, ...).
	Server string
	Name   string

	Params json.RawMessage // the request params as JSON
	Start  time.Time       // when the gateway received the request

	// Catalog looks up what the gateway knows about the upstream servers:
	// tool definitions and the owners of listed names. The gateway sets it
	// on every request; it is nil in calls built by hand, which controls
	// must handle (see [Catalog]).
	Catalog Catalog

	// Timeout, when positive, replaces the server's call_timeout for the
	// upstream part of this request (tools/call, prompts/get,
	// resources/read). Interceptors set it in Request; the last one wins.
	Timeout time.Duration

	// Meta carries per-call values that one interceptor hands to another
	// (for example the decision an audit record should name). Keys are
	// owned by the interceptor that writes them.
	Meta map[string]any
}

// Catalog is the gateway's view of the upstream servers, for controls that
// decide by a tool's definition (annotations, schema) or must attribute
// the items of a list result to their server. Implementations are safe for
// concurrent use. It is deliberately JSON-only so that controls need no
// MCP SDK types.
type Catalog interface {
	// Tool returns the definition of tool name on server (name as the
	// server knows it, without the gateway's prefix) as the server last
	// listed it: the JSON of an MCP Tool object, to be treated as
	// read-only. It reports false if the server lists no such tool.
	Tool(server, name string) (json.RawMessage, bool)
	// Resolve maps a tool or prompt name as the agent sees it (for
	// example "github__create_issue") to its server and upstream name.
	Resolve(name string) (server, upstream string, ok bool)
	// Owner returns the server that listed a resource URI or resource
	// template, or "" when no server did.
	Owner(uri string) string
}

// Set stores a per-call value for later interceptors.
func (c *Call) Set(key string, v any) {
	if c.Meta == nil {
		c.Meta = make(map[string]any)
	}
	c.Meta[key] = v
}

// Note is a notification crossing the gateway (progress, list_changed,
// logging messages, cancellation, ...).
type Note struct {
	Session   string
	Revision  string
	Caller    Identity
	Direction Direction
	Method    string
	Server    string // upstream server the notification came from or goes to
	Params    json.RawMessage
}

// Verdict is a control's decision. The zero value allows the message.
type Verdict struct {
	Deny   bool
	Rule   string // stable rule ID, e.g. "args.path_root"
	Reason string // human-readable; safe to show the agent
	// Code is the JSON-RPC error code for denials of methods other than
	// tools/call. Zero means the gateway's default (-32600 style policy
	// denial, see [CodeDenied]).
	Code int64
	// Approve asks a human before the request proceeds. The gateway puts
	// Reason to the user (elicitation for 2025-era clients, an
	// input_required result for 2026-07-28 ones) and denies the request,
	// naming Rule, when the user declines or the client cannot ask.
	// Deny wins over Approve.
	Approve bool
}

// Allow is the verdict that lets a message through.
var Allow = Verdict{}

// ApproveVerdict returns a verdict that asks a human first.
func ApproveVerdict(rule, reason string) Verdict {
	return Verdict{Approve: true, Rule: rule, Reason: reason}
}

// DenyVerdict returns a denying verdict.
func DenyVerdict(rule, reason string) Verdict {
	return Verdict{Deny: true, Rule: rule, Reason: reason}
}

// Interceptor sees every request before the upstream (or, for
// server-to-client requests, the agent) does.
//
// Request may be called concurrently for different calls. It must not
// keep c after it returns, except to record it.
type Interceptor interface {
	// Name identifies the interceptor in logs and denials.
	Name() string
	// Request decides about a request. An error means the control could
	// not run and the request is denied.
	Request(ctx context.Context, c *Call) (Verdict, error)
}

// ResponseInterceptor is optional: it sees each result before it is
// returned to the requester and may rewrite it. It returns the result to
// pass on (res itself when unchanged). A denying verdict replaces the
// result with an error (a tool error for tools/call).
type ResponseInterceptor interface {
	Response(ctx context.Context, c *Call, res json.RawMessage) (json.RawMessage, Verdict, error)
}

// NotificationInterceptor is optional: it sees notifications in both
// directions. A denial drops the notification.
type NotificationInterceptor interface {
	Notification(ctx context.Context, n *Note) (Verdict, error)
}

// Finisher is optional: it is told how every call ended, after the
// response (or the denial, or the upstream error) is known. Audit and
// metrics hang off it. err is the upstream or transport error, if any;
// v is the verdict that stopped the call, or [Allow].
type Finisher interface {
	Finish(ctx context.Context, c *Call, res json.RawMessage, v Verdict, err error)
}
