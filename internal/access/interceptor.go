package access

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"mcpwarden/internal/pipeline"
)

// Options configures an [Interceptor].
type Options struct {
	Policy *Policy
	Logger *slog.Logger
}

// Interceptor enforces an access policy: it decides each tools/call,
// prompts/get, resources/read, resources/subscribe and
// completion/complete, and filters tools/list, prompts/list,
// resources/list and resources/templates/list so that each caller sees
// only what it may use. Protocol housekeeping (initialize, ping, logging
// levels, ...) is not subject to rules. It is safe for concurrent use.
type Interceptor struct {
	p   *Policy
	log *slog.Logger
	ann annotationCache
}

var (
	_ pipeline.Interceptor         = (*Interceptor)(nil)
	_ pipeline.ResponseInterceptor = (*Interceptor)(nil)
)

// New returns the interceptor for a compiled policy.
func New(opts Options) *Interceptor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Interceptor{p: opts.Policy, log: log.With("component", "access")}
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "access" }

// MetaDecision is the [pipeline.Call] Meta key under which the
// interceptor leaves the rule that allowed or asked for a request, for
// the audit record.
const MetaDecision = "access.decision"

// Request implements [pipeline.Interceptor].
func (ic *Interceptor) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	in, ok := ic.input(c)
	if !ok {
		return pipeline.Allow, nil
	}
	res := ic.p.Decide(in)
	if res.Err != nil {
		ic.log.Warn("an access rule failed to evaluate; the request is denied", "rule", res.Rule, "caller", c.Caller.Subject, "server", c.Server, "name", c.Name, "err", res.Err)
	}
	switch res.Decision {
	case Deny:
		return pipeline.DenyVerdict(res.Rule, res.Reason), nil
	case Approve:
		c.Set(MetaDecision, &mark{c: c, action: "approve", rule: res.Rule})
		return pipeline.ApproveVerdict(res.Rule, res.Reason), nil
	}
	if res.Index >= 0 {
		c.Set(MetaDecision, &mark{c: c, action: "allow", rule: res.Rule, reason: "allowed by access rule " + res.Rule})
	}
	return pipeline.Allow, nil
}

// mark records the access decision in the audit log (it implements the
// audit package's Decider). For approvals it reports the human's answer,
// which the gateway records in the call after the chain has run.
type mark struct {
	c                    *pipeline.Call
	action, rule, reason string
}

func (m *mark) AuditDecision() (action, rule, reason string) {
	if m.action != "approve" {
		return m.action, m.rule, m.reason
	}
	a, ok := m.c.Meta[pipeline.MetaApproval].(pipeline.Approval)
	switch {
	case !ok:
		return "approve", m.rule, "approval asked"
	case a.Approved:
		return "approve", m.rule, "approved by the user (" + a.How + ")"
	case a.How == "input_required":
		return "approve", m.rule, "approval asked through input_required; the answer comes with the retry"
	}
	return "approve", m.rule, "not approved (" + a.How + ")"
}

// input builds the rule input for a governed request; ok is false for
// requests rules do not govern.
func (ic *Interceptor) input(c *pipeline.Call) (*Input, bool) {
	if c.Direction != pipeline.ToServer || c.Server == "" {
		// Server-to-client requests are not the caller's; unrouted ones
		// reach no server and fail on their own.
		return nil, false
	}
	in := &Input{Caller: c.Caller, Server: c.Server, Method: c.Method, Name: c.Name}
	switch c.Method {
	case "tools/call":
		in.Kind = KindTool
		in.Args = argumentsOf(c.Params)
		in.Annotations = ic.annotations(c)
	case "prompts/get":
		in.Kind = KindPrompt
		in.Args = argumentsOf(c.Params)
	case "resources/read", "resources/subscribe":
		in.Kind = KindResource
	case "completion/complete":
		in.Kind = KindResource
		if refType(c.Params) == "ref/prompt" {
			in.Kind = KindPrompt
		}
	default:
		return nil, false
	}
	return in, true
}

func argumentsOf(params json.RawMessage) json.RawMessage {
	var p struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(params, &p) != nil {
		return json.RawMessage(`"invalid"`) // makes args an evaluation error, so rules on it deny
	}
	return p.Arguments
}

func refType(params json.RawMessage) string {
	var p struct {
		Ref struct {
			Type string `json:"type"`
		} `json:"ref"`
	}
	_ = json.Unmarshal(params, &p)
	return p.Ref.Type
}

// annotations returns the called tool's annotations from the gateway's
// catalog. A tool the catalog does not know gets the defaults, which
// assume the worst (destructive, open world).
func (ic *Interceptor) annotations(c *pipeline.Call) Annotations {
	if c.Catalog == nil {
		return DefaultAnnotations
	}
	raw, ok := c.Catalog.Tool(c.Server, c.Name)
	if !ok {
		return DefaultAnnotations
	}
	return ic.ann.get(c.Server, c.Name, raw)
}

// annotationCache keeps parsed annotations per tool, valid while the
// tool's definition is byte-for-byte the same, so that a call does not
// decode the whole definition (schemas and all) to read four hints.
type annotationCache struct {
	mu sync.Mutex
	m  map[toolKey]cachedAnnotations
}

type toolKey struct{ server, name string }

type cachedAnnotations struct {
	def string
	ann Annotations
}

const maxCachedTools = 10000

func (ac *annotationCache) get(server, name string, def json.RawMessage) Annotations {
	k := toolKey{server, name}
	ac.mu.Lock()
	e, ok := ac.m[k]
	ac.mu.Unlock()
	if ok && e.def == string(def) {
		return e.ann
	}
	ann := parseAnnotations(def)
	ac.mu.Lock()
	if ac.m == nil || len(ac.m) >= maxCachedTools {
		ac.m = make(map[toolKey]cachedAnnotations)
	}
	ac.m[k] = cachedAnnotations{def: string(def), ann: ann}
	ac.mu.Unlock()
	return ann
}

// parseAnnotations reads a tool definition's annotations, applying the
// MCP defaults for hints it leaves out.
func parseAnnotations(def json.RawMessage) Annotations {
	var t struct {
		Title       string `json:"title"`
		Annotations *struct {
			Title           string `json:"title"`
			ReadOnlyHint    *bool  `json:"readOnlyHint"`
			DestructiveHint *bool  `json:"destructiveHint"`
			IdempotentHint  *bool  `json:"idempotentHint"`
			OpenWorldHint   *bool  `json:"openWorldHint"`
		} `json:"annotations"`
	}
	ann := DefaultAnnotations
	if json.Unmarshal(def, &t) != nil {
		return ann
	}
	ann.Title = t.Title
	if a := t.Annotations; a != nil {
		if a.Title != "" && ann.Title == "" {
			ann.Title = a.Title
		}
		set := func(dst *bool, v *bool) {
			if v != nil {
				*dst = *v
			}
		}
		set(&ann.ReadOnlyHint, a.ReadOnlyHint)
		set(&ann.DestructiveHint, a.DestructiveHint)
		set(&ann.IdempotentHint, a.IdempotentHint)
		set(&ann.OpenWorldHint, a.OpenWorldHint)
	}
	return ann
}

// Response implements [pipeline.ResponseInterceptor]: it removes from
// list results what the caller may not use.
func (ic *Interceptor) Response(_ context.Context, c *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	var field, key, method, kind string
	switch c.Method {
	case "tools/list":
		field, key, method, kind = "tools", "name", "tools/call", KindTool
	case "prompts/list":
		field, key, method, kind = "prompts", "name", "prompts/get", KindPrompt
	case "resources/list":
		field, key, method, kind = "resources", "uri", "resources/read", KindResource
	case "resources/templates/list":
		field, key, method, kind = "resourceTemplates", "uriTemplate", "resources/read", KindResource
	default:
		return res, pipeline.Allow, nil
	}
	if c.Direction != pipeline.ToServer {
		return res, pipeline.Allow, nil
	}
	if c.Catalog == nil {
		return nil, pipeline.Verdict{}, fmt.Errorf("filtering %s: the gateway provided no catalog to attribute items to servers", c.Method)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(res, &top); err != nil {
		return nil, pipeline.Verdict{}, fmt.Errorf("filtering %s: %w", c.Method, err)
	}
	var items []json.RawMessage
	if raw, ok := top[field]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, pipeline.Verdict{}, fmt.Errorf("filtering %s: %w", c.Method, err)
		}
	}
	kept := items[:0:0]
	hidden := 0
	for _, item := range items {
		if ic.visible(c, item, key, method, kind) {
			kept = append(kept, item)
		} else {
			hidden++
		}
	}
	if hidden == 0 {
		return res, pipeline.Allow, nil
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, pipeline.Verdict{}, err
	}
	top[field] = b
	out, err := json.Marshal(top)
	if err != nil {
		return nil, pipeline.Verdict{}, err
	}
	ic.log.Debug("list filtered by the access policy", "method", c.Method, "caller", c.Caller.Subject, "hidden", hidden, "shown", len(kept))
	return out, pipeline.Allow, nil
}

func (ic *Interceptor) visible(c *pipeline.Call, item json.RawMessage, key, method, kind string) bool {
	var id map[string]json.RawMessage
	if json.Unmarshal(item, &id) != nil {
		return false
	}
	var name string
	if json.Unmarshal(id[key], &name) != nil || name == "" {
		return false
	}
	in := &Input{Caller: c.Caller, Method: method, Kind: kind}
	u := Unknowns{Args: true}
	switch kind {
	case KindResource:
		in.Server, in.Name = c.Catalog.Owner(name), name
		u.Name = key == "uriTemplate"
	default:
		s, n, ok := c.Catalog.Resolve(name)
		if !ok {
			ic.log.Warn("list item hidden: the gateway cannot say which server it belongs to", "method", c.Method, "name", name)
			return false
		}
		in.Server, in.Name = s, n
	}
	if in.Server == "" {
		ic.log.Warn("list item hidden: no server claims it", "method", c.Method, "name", name)
		return false
	}
	if kind == KindTool {
		in.Annotations = parseAnnotations(item)
	}
	ok, res := ic.p.Visible(in, u)
	if res.Err != nil {
		ic.log.Warn("an access rule failed to evaluate for a list item; it is hidden", "rule", res.Rule, "caller", c.Caller.Subject, "item", name, "err", res.Err)
	}
	return ok
}
