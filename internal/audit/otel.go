package audit

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of our own, under the mcpwarden namespace, for what the
// semantic conventions have no name for.
const (
	attrDecision   = attribute.Key("mcpwarden.decision")
	attrRules      = attribute.Key("mcpwarden.rule_ids")
	attrControl    = attribute.Key("mcpwarden.control")
	attrServer     = attribute.Key("mcpwarden.server")
	attrCallID     = attribute.Key("mcpwarden.call_id")
	attrAuthMethod = attribute.Key("mcpwarden.auth_method")
)

// errorTypeToolError is the MCP conventions' error.type for a tools/call
// whose result has isError: true.
const errorTypeToolError = "tool_error"

// OTelSink emits one span per call, from its decision record, following
// the OpenTelemetry semantic conventions for MCP and GenAI (semconv
// v1.41.0):
//
//   - span name "{mcp.method.name} {target}", target being the tool or
//     prompt name when there is one; kind SERVER for agent requests and
//     CLIENT for server-to-client requests the gateway forwards; start and
//     end from the record's time and latency;
//   - mcp.method.name, mcp.session.id, mcp.protocol.version,
//     mcp.resource.uri (resources/read, subscribe, unsubscribe),
//     jsonrpc.request.id, jsonrpc.protocol.version ("2.0");
//   - gen_ai.operation.name "execute_tool" and gen_ai.tool.name for
//     tools/call, gen_ai.prompt.name for prompts/get;
//   - error.type: the denying rule ID for a denial, "tool_error" for a tool
//     result with isError, "_OTHER" for an upstream error; status Error
//     with the reason;
//   - user.id: the caller's subject;
//   - mcpwarden.decision, mcpwarden.rule_ids, mcpwarden.control,
//     mcpwarden.server, mcpwarden.call_id, mcpwarden.auth_method.
//
// Arguments and results (gen_ai.tool.call.arguments/result) are opt-in in
// the conventions and are not emitted: traces usually reach places with
// weaker access control than the audit log. Request records produce no
// span. Spans are exported asynchronously by the provider, so Write never
// fails; export errors surface through the provider's error handler.
type OTelSink struct {
	tracer trace.Tracer
}

var _ Sink = (*OTelSink)(nil)

// NewOTelSink returns a sink that emits spans to tp.
func NewOTelSink(tp trace.TracerProvider) *OTelSink {
	return &OTelSink{tracer: tp.Tracer("mcpwarden/internal/audit", trace.WithSchemaURL(semconv.SchemaURL))}
}

// Name implements [Sink].
func (s *OTelSink) Name() string { return "otel" }

// Close implements [Sink]; the provider is owned (and shut down) by the
// gateway.
func (s *OTelSink) Close() error { return nil }

// Write implements [Sink]. The span is a child of the span in ctx, if any.
func (s *OTelSink) Write(ctx context.Context, r *Record) error {
	if r.Kind != KindDecision {
		return nil
	}
	name := r.Method
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs,
		semconv.McpMethodNameKey.String(r.Method),
		semconv.JSONRPCProtocolVersion("2.0"),
		attrDecision.String(string(r.Decision)),
		attrCallID.String(r.CallID),
	)
	switch r.Method {
	case "tools/call":
		attrs = append(attrs, semconv.GenAIOperationNameExecuteTool)
		if r.Name != "" {
			attrs = append(attrs, semconv.GenAIToolName(r.Name))
			name += " " + r.Name
		}
	case "prompts/get":
		if r.Name != "" {
			attrs = append(attrs, semconv.GenAIPromptName(r.Name))
			name += " " + r.Name
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		if r.Name != "" {
			attrs = append(attrs, semconv.McpResourceURI(r.Name))
		}
	}
	for _, kv := range [...]struct {
		k attribute.Key
		v string
	}{
		{semconv.McpSessionIDKey, r.Session},
		{semconv.McpProtocolVersionKey, r.Revision},
		{semconv.JSONRPCRequestIDKey, r.RequestID},
		{semconv.UserIDKey, r.Caller},
		{attrAuthMethod, r.AuthMethod},
		{attrServer, r.Server},
	} {
		if kv.v != "" {
			attrs = append(attrs, kv.k.String(kv.v))
		}
	}
	var rules []string
	var deny *Decision
	for i := range r.Decisions {
		d := &r.Decisions[i]
		if d.Rule != "" {
			rules = append(rules, d.Rule)
		}
		if d.Action == Deny && deny == nil {
			deny = d
		}
	}
	if len(rules) > 0 {
		attrs = append(attrs, attrRules.StringSlice(rules))
	}
	status, desc := codes.Unset, ""
	switch {
	case deny != nil:
		et := deny.Rule
		if et == "" {
			et = "denied"
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(et))
		if deny.Control != "" {
			attrs = append(attrs, attrControl.String(deny.Control))
		}
		status, desc = codes.Error, deny.Reason
	case r.Error != "":
		attrs = append(attrs, semconv.ErrorTypeOther)
		status, desc = codes.Error, r.Error
	case r.Method == "tools/call" && resultIsError(r.Result):
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorTypeToolError))
		status, desc = codes.Error, "the tool reported an error"
	}
	kind := trace.SpanKindServer
	if r.Direction == "to_client" {
		kind = trace.SpanKindClient
	}
	_, span := s.tracer.Start(ctx, name,
		trace.WithSpanKind(kind),
		trace.WithTimestamp(r.Time.Add(-r.Latency)),
		trace.WithAttributes(attrs...),
	)
	if status != codes.Unset {
		span.SetStatus(status, desc)
	}
	span.End(trace.WithTimestamp(r.Time))
	return nil
}

// resultIsError reports whether a (possibly truncated) tools/call result
// has a top-level-looking "isError": true.
func resultIsError(res string) bool {
	for {
		i := strings.Index(res, `"isError"`)
		if i < 0 {
			return false
		}
		res = strings.TrimLeft(res[i+len(`"isError"`):], " \t\r\n")
		if rest, ok := strings.CutPrefix(res, ":"); ok {
			if strings.HasPrefix(strings.TrimLeft(rest, " \t\r\n"), "true") {
				return true
			}
		}
	}
}
