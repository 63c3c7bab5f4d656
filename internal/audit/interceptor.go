package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"mcpwarden/internal/pipeline"
)

// RuleUnavailable names denials made because the audit log could not
// record the request (with on_error: deny).
const RuleUnavailable = "audit.unavailable"

// reasonUnavailable is what the agent is told; the cause is in the
// gateway's log, not in the response.
const reasonUnavailable = "the audit log is unavailable, so the call was refused; an operator must restore it"

// metaKey is the [pipeline.Call] Meta key under which the interceptor keeps
// its per-call state between Request and Finish.
const metaKey = "audit.call"

// Decider is implemented by values that other controls store in
// [pipeline.Call].Meta (under any key) to have a decision that did not stop
// the call recorded: a rewrite (redaction, sanitization), an approval (with
// the user's answer as reason), or a denial made before the verdict was
// returned. action is "allow", "deny", "rewrite" or "approve". The method
// uses only strings so that controls need not import this package.
type Decider interface {
	AuditDecision() (action, rule, reason string)
}

// Mark is a ready-made [Decider].
type Mark struct {
	Action Action
	Rule   string
	Reason string
}

// AuditDecision implements [Decider].
func (m Mark) AuditDecision() (action, rule, reason string) {
	return string(m.Action), m.Rule, m.Reason
}

// callState is kept in Call.Meta between Request and Finish.
type callState struct {
	id       string
	logged   bool            // the request record was written
	params   json.RawMessage // the params as the request record saw them
	received time.Time
}

var (
	_ pipeline.Interceptor = (*Log)(nil)
	_ pipeline.Finisher    = (*Log)(nil)
)

// Name implements [pipeline.Interceptor].
func (l *Log) Name() string { return "audit" }

// Request implements [pipeline.Interceptor]: it writes the request record
// and returns only once it is stored. If a sink cannot store it, the call
// is denied with [RuleUnavailable] (on_error: deny) or let through
// unrecorded (on_error: allow); either way the failure is logged and
// counted. Place the audit log first in the chain so that every request is
// recorded before any other control or the upstream acts on it.
func (l *Log) Request(ctx context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	st := &callState{id: l.newCallID(), params: c.Params, received: l.now()}
	c.Set(metaKey, st)
	rec := l.baseRecord(c, KindRequest, st.id, st.received)
	rec.Args, rec.ArgsTruncated = clip(string(c.Params), l.maxArgs, l.redactor)
	if err := l.Write(ctx, &rec); err != nil {
		if l.onError == OnErrorAllow {
			return pipeline.Allow, nil
		}
		return pipeline.DenyVerdict(RuleUnavailable, reasonUnavailable), nil
	}
	st.logged = true
	return pipeline.Allow, nil
}

// Finish implements [pipeline.Finisher]: it writes the decision record
// with the verdict, every [Decider] found in c.Meta, the result, the
// latency and the upstream error. It records even if the caller's context
// has been cancelled. A failure to write is logged and counted; the call
// is over, so there is nothing left to deny.
func (l *Log) Finish(ctx context.Context, c *pipeline.Call, res json.RawMessage, v pipeline.Verdict, err error) {
	ctx = context.WithoutCancel(ctx)
	now := l.now()
	st, _ := c.Meta[metaKey].(*callState)
	if st == nil {
		// The request stopped before reaching this interceptor: the
		// decision record is the only one, so it carries the arguments.
		st = &callState{id: l.newCallID()}
	}
	rec := l.baseRecord(c, KindDecision, st.id, now)
	var ds []Decision
	if !st.logged || !sameBytes(st.params, c.Params) {
		rec.Args, rec.ArgsTruncated = clip(string(c.Params), l.maxArgs, l.redactor)
	}
	if st.logged && !sameBytes(st.params, c.Params) {
		ds = append(ds, Decision{Action: Rewrite, Reason: "the arguments were rewritten before reaching the upstream"})
	}
	ds = l.appendDeciders(ds, c.Meta)
	if v.Deny {
		d := Decision{Action: Deny, Rule: v.Rule}
		d.Reason, _ = clip(v.Reason, l.maxArgs, l.redactor)
		if den, ok := pipeline.AsDenial(err); ok {
			d.Control = den.Interceptor
			if den.Cause != nil {
				rec.Error, _ = clip(den.Cause.Error(), l.maxRes, l.redactor)
			}
		}
		ds = append(ds, d)
	} else if err != nil {
		rec.Error, _ = clip(err.Error(), l.maxRes, l.redactor)
	}
	if res != nil {
		rec.Result, rec.ResultTruncated = clip(string(res), l.maxRes, l.redactor)
	}
	rec.Decisions = ds
	rec.Decision = Summarize(ds)
	start := c.Start
	if start.IsZero() {
		start = st.received
	}
	if !start.IsZero() && now.After(start) {
		rec.Latency = now.Sub(start)
	}
	l.Write(ctx, &rec) // failures are counted and logged by the sink state
}

func (l *Log) baseRecord(c *pipeline.Call, kind Kind, id string, t time.Time) Record {
	r := Record{
		Time:       t,
		Kind:       kind,
		CallID:     id,
		Caller:     c.Caller.Subject,
		AuthMethod: c.Caller.Method,
		Session:    c.Session,
		Server:     c.Server,
		Name:       c.Name,
		Method:     c.Method,
		RequestID:  c.ID,
		Revision:   c.Revision,
	}
	if c.Direction != 0 {
		r.Direction = c.Direction.String()
	}
	if r.Method == "" {
		r.Method = "(none)" // a record must name a method; the gateway always sets one
	}
	return r
}

// appendDeciders adds the decisions other controls left in meta, ordered
// by key so that records do not depend on map order.
func (l *Log) appendDeciders(ds []Decision, meta map[string]any) []Decision {
	type kd struct {
		key string
		d   Decision
	}
	var found []kd
	for k, v := range meta {
		dc, ok := v.(Decider)
		if !ok {
			continue
		}
		action, rule, reason := dc.AuditDecision()
		a := Action(strings.ToLower(action))
		if !a.Valid() {
			// A control bug must not cost the record: keep what it said.
			reason = "invalid action " + strconv.Quote(action) + ": " + reason
			a = Rewrite
		}
		reason, _ = clip(reason, l.maxArgs, l.redactor)
		found = append(found, kd{k, Decision{Action: a, Rule: rule, Reason: reason, Control: controlOf(k)}})
	}
	slices.SortFunc(found, func(a, b kd) int { return strings.Compare(a.key, b.key) })
	for _, f := range found {
		ds = append(ds, f.d)
	}
	return ds
}

// controlOf guesses the control from a Meta key: keys are owned by the
// control that writes them and by convention start with its name
// ("authz.approval" -> "authz").
func controlOf(key string) string {
	name, _, _ := strings.Cut(key, ".")
	return name
}

// sameBytes reports whether a and b hold the same params; the common case,
// no rewrite, is the very same slice and costs no comparison.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}

// newCallID returns an ID unique across restarts: a random per-Log prefix
// and a counter.
func (l *Log) newCallID() string {
	var buf [40]byte
	b := append(buf[:0], l.idPrefix...)
	b = strconv.AppendUint(b, l.idSeq.Add(1), 36)
	return string(b)
}
