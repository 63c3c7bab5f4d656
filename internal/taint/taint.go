// Package taint is the gateway's toxic-flow control: it tracks, per
// session, whether the agent has read untrusted content and private
// data, and stops the call that would complete the "lethal trifecta" by
// sending data out.
//
// Tools are labelled untrusted_source, private_reader or exfil_sink by
// policy.flows.tools (first matching entry), else by the scanner's
// classifier (package toxicflow: annotations, the words of the name,
// description and parameters). A session is tainted when a call to a
// source or a reader returns; a later call to a sink in a session that
// has both taints is denied or sent to a human for approval
// (policy.flows.action), and the reason names the calls that tainted it.
// A tool that both reads private data and sends it out counts as its own
// reader.
//
// Sessions: a 2025-era session (stdio or HTTP) is its MCP session ID.
// Requests of revision 2026-07-28 and later are stateless (the gateway
// gives each its own session), so their taint is kept per caller (the authenticated subject; every anonymous
// stateless caller shares one taint), which is stricter than a session,
// never looser. Taint lasts for the session's life (idle sessions are
// forgotten after a day; at most [MaxSessions] are kept, the least
// recently used dropped first).
package taint

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mcpwarden/internal/audit"
	"mcpwarden/internal/capability"
	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/tooldef"
	"mcpwarden/internal/toolmatch"
	"mcpwarden/internal/toxicflow"
)

// RuleTrifecta names denials and approvals of this control.
const RuleTrifecta = "flows.lethal_trifecta"

// Bounds on what is kept.
const (
	MaxSessions = 10000
	idleTTL     = 24 * time.Hour
	maxSteps    = 4 // calls remembered per taint, for the reason
)

// Labeler labels tools. It is safe for concurrent use.
type Labeler struct {
	overrides []override
	mu        sync.Mutex
	cache     map[string]toxicflow.Labels // definition JSON → labels
}

type override struct {
	match  toolmatch.Pattern
	labels toxicflow.Labels
}

// NewLabeler compiles policy.flows.tools.
func NewLabeler(p config.FlowsPolicy) (*Labeler, error) {
	l := &Labeler{cache: map[string]toxicflow.Labels{}}
	for i, t := range p.Tools {
		m, err := toolmatch.Parse(t.Match)
		if err != nil {
			return nil, fmt.Errorf("policy.flows.tools[%d]: %w", i, err)
		}
		var ls toxicflow.Labels
		for _, x := range t.Labels {
			why := "configured in policy.flows.tools (" + t.Match + ")"
			switch x {
			case config.LabelSource:
				ls.Source = why
			case config.LabelPrivate:
				ls.Private = why
			case config.LabelSink:
				ls.Sink = why
			}
		}
		l.overrides = append(l.overrides, override{m, ls})
	}
	return l, nil
}

// Label returns the labels of tool name on server, whose definition is
// def (nil when unknown: then only the configuration labels it).
func (l *Labeler) Label(server, name string, def []byte) toxicflow.Labels {
	for _, o := range l.overrides {
		if o.match.Match(server, name) {
			return o.labels
		}
	}
	if len(def) == 0 {
		return toxicflow.Labels{}
	}
	l.mu.Lock()
	ls, ok := l.cache[string(def)]
	l.mu.Unlock()
	if ok {
		return ls
	}
	if t, err := tooldef.Decode(def); err == nil {
		p := capability.Classify(&t)
		ls = toxicflow.Label(&t, &p)
	}
	l.mu.Lock()
	if len(l.cache) >= 8192 {
		l.cache = map[string]toxicflow.Labels{}
	}
	l.cache[string(def)] = ls
	l.mu.Unlock()
	return ls
}

// LabelCall labels the tool a tools/call is for.
func (l *Labeler) LabelCall(c *pipeline.Call) toxicflow.Labels {
	var def json.RawMessage
	if c.Catalog != nil {
		def, _ = c.Catalog.Tool(c.Server, c.Name)
	}
	return l.Label(c.Server, c.Name, def)
}

// Options configures the control.
type Options struct {
	Policy  config.FlowsPolicy // with defaults applied
	Labeler *Labeler           // nil builds one from Policy
	Logger  *slog.Logger
	Now     func() time.Time // nil means time.Now
}

// Interceptor is the control. It is safe for concurrent use.
type Interceptor struct {
	approve bool
	labels  *Labeler
	log     *slog.Logger
	now     func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	seen            time.Time
	calls           int
	source, private []step
}

type step struct {
	n         int
	tool, why string
}

var (
	_ pipeline.Interceptor         = (*Interceptor)(nil)
	_ pipeline.ResponseInterceptor = (*Interceptor)(nil)
)

// New builds the control.
func New(opts Options) (*Interceptor, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := opts.Labeler
	if l == nil {
		var err error
		if l, err = NewLabeler(opts.Policy); err != nil {
			return nil, err
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Interceptor{approve: opts.Policy.Action != config.FlowDeny, labels: l, log: log.With("component", "taint"), now: now, sessions: map[string]*session{}}, nil
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "flows" }

// statelessRevision is the first MCP revision whose requests carry no
// session: the gateway gives each its own, which would forget the taint
// between calls.
const statelessRevision = "2026-07-28"

// key is what taint is kept under: the session, or the caller for
// stateless requests.
func key(c *pipeline.Call) string {
	if c.Session != "" && (c.Revision == "" || c.Revision < statelessRevision) {
		return "session:" + c.Session
	}
	return "caller:" + c.Caller.Subject
}

// Request implements [pipeline.Interceptor].
func (ic *Interceptor) Request(ctx context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Method != "tools/call" || c.Direction != pipeline.ToServer || c.Server == "" {
		return pipeline.Allow, nil
	}
	l := ic.labels.LabelCall(c)
	c.Set(metaLabels, l)
	if l.Sink == "" {
		return pipeline.Allow, nil
	}
	ic.mu.Lock()
	s := ic.sessions[key(c)]
	var src, priv []step
	if s != nil {
		src, priv = append(src, s.source...), append(priv, s.private...)
	}
	ic.mu.Unlock()
	if len(src) == 0 || len(priv) == 0 && l.Private == "" {
		return pipeline.Allow, nil
	}
	privText := steps(priv)
	if len(priv) == 0 {
		privText = "this very call (" + l.Private + ")"
	}
	reason := fmt.Sprintf("%s/%s can send data out (%s), and this session has read untrusted content (%s) and private data (%s): "+
		"instructions planted in the untrusted content could be making the agent leak the private data (the lethal trifecta)",
		c.Server, c.Name, l.Sink, steps(src), privText)
	ic.log.Warn("toxic flow", "server", c.Server, "tool", c.Name, "session", c.Session, "caller", c.Caller.Subject, "approve", ic.approve, "reason", reason)
	if ic.approve {
		return pipeline.ApproveVerdict(RuleTrifecta, reason), nil
	}
	return pipeline.DenyVerdict(RuleTrifecta, reason), nil
}

const metaLabels = "flows.labels"

// Response implements [pipeline.ResponseInterceptor]: a call that
// returned taints its session.
func (ic *Interceptor) Response(ctx context.Context, c *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	if c.Method != "tools/call" || c.Direction != pipeline.ToServer || c.Server == "" {
		return res, pipeline.Allow, nil
	}
	l, ok := c.Meta[metaLabels].(toxicflow.Labels)
	if !ok {
		l = ic.labels.LabelCall(c)
	}
	now := ic.now()
	ic.mu.Lock()
	defer ic.mu.Unlock()
	k := key(c)
	s := ic.sessions[k]
	if s == nil {
		if len(ic.sessions) >= MaxSessions {
			ic.evict(now)
		}
		s = &session{}
		ic.sessions[k] = s
	}
	s.seen = now
	s.calls++
	tool := c.Server + "/" + c.Name
	if l.Source != "" {
		s.source = remember(s.source, step{s.calls, tool, l.Source})
	}
	if l.Private != "" {
		s.private = remember(s.private, step{s.calls, tool, l.Private})
	}
	if l.Source != "" || l.Private != "" {
		c.Set("flows.taint", audit.Mark{Action: audit.Allow, Rule: "flows.taint", Reason: "the session is now tainted by " + tool + " (" + strings.Join(l.List(), ", ") + ")"})
	}
	return res, pipeline.Allow, nil
}

func remember(ss []step, s step) []step {
	for _, x := range ss {
		if x.tool == s.tool {
			return ss // the first call of each tool is the one to name
		}
	}
	if len(ss) >= maxSteps {
		return ss
	}
	return append(ss, s)
}

func steps(ss []step) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("call %d: %s, %s", s.n, s.tool, s.why)
	}
	return strings.Join(parts, "; ")
}

// evict drops idle sessions, or the least recently seen one; ic.mu is
// held.
func (ic *Interceptor) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, s := range ic.sessions {
		if now.Sub(s.seen) > idleTTL {
			delete(ic.sessions, k)
			continue
		}
		if oldest == "" || s.seen.Before(at) {
			oldest, at = k, s.seen
		}
	}
	if len(ic.sessions) >= MaxSessions && oldest != "" {
		delete(ic.sessions, oldest)
	}
}
