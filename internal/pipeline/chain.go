package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CodeDenied is the JSON-RPC error code mcpwarden uses when a policy denies
// a request that is not a tools/call. It sits in the implementation-defined
// server error range (-32000 to -32099 is reserved; -32001 is widely used by
// gateways for "request rejected").
const CodeDenied int64 = -32001

// RuleControlError names denials caused by a control that failed to run.
const RuleControlError = "pipeline.control_error"

// Denial is the error form of a denying verdict, returned by [Chain]
// methods so callers can tell policy denials from transport failures.
type Denial struct {
	Verdict
	Interceptor string // which interceptor denied
	Cause       error  // for control failures, the underlying error (never shown to the agent)
}

func (d *Denial) Error() string {
	return fmt.Sprintf("denied by %s (%s): %s", d.Interceptor, d.Rule, d.Reason)
}

func (d *Denial) Unwrap() error { return d.Cause }

// AsDenial reports whether err is (or wraps) a policy denial.
func AsDenial(err error) (*Denial, bool) {
	if err == nil {
		return nil, false // without the allocation errors.As costs
	}
	var d *Denial
	ok := errors.As(err, &d)
	return d, ok
}

// Chain is an ordered list of interceptors. Requests flow through it front
// to back, responses back to front, as in an onion. The zero Chain allows
// everything. A Chain is immutable and safe for concurrent use.
type Chain struct {
	reqs   []Interceptor
	resps  []namedResponse
	notes  []namedNote
	finish []Finisher
}

type namedResponse struct {
	name string
	ResponseInterceptor
}

type namedNote struct {
	name string
	NotificationInterceptor
}

// NewChain builds a chain. The optional interfaces are found by type
// assertion once, here, so the hot path does no assertions.
func NewChain(ics ...Interceptor) *Chain {
	ch := &Chain{reqs: ics}
	for i := len(ics) - 1; i >= 0; i-- {
		ic := ics[i]
		if r, ok := ic.(ResponseInterceptor); ok {
			ch.resps = append(ch.resps, namedResponse{ic.Name(), r})
		}
	}
	for _, ic := range ics {
		if n, ok := ic.(NotificationInterceptor); ok {
			ch.notes = append(ch.notes, namedNote{ic.Name(), n})
		}
		if f, ok := ic.(Finisher); ok {
			ch.finish = append(ch.finish, f)
		}
	}
	return ch
}

// Len reports how many interceptors the chain holds.
func (ch *Chain) Len() int {
	if ch == nil {
		return 0
	}
	return len(ch.reqs)
}

// Request runs every interceptor's Request in order. It returns nil to
// allow, a *[Denial] naming the first interceptor that denied or failed,
// or, when none denied but some asked for approval, an *[ApprovalNeeded]
// listing them. Approvals do not stop the chain: a later control may
// still deny, and a denial wins.
func (ch *Chain) Request(ctx context.Context, c *Call) error {
	if ch == nil {
		return nil
	}
	var need *ApprovalNeeded
	for _, ic := range ch.reqs {
		v, err := ic.Request(ctx, c)
		if err != nil {
			return controlFailure(ic.Name(), err)
		}
		if v.Deny {
			return &Denial{Verdict: v, Interceptor: ic.Name()}
		}
		if v.Approve {
			if need == nil {
				need = &ApprovalNeeded{}
			}
			need.Asks = append(need.Asks, Ask{Interceptor: ic.Name(), Rule: v.Rule, Reason: v.Reason})
		}
	}
	if need != nil {
		return need
	}
	return nil
}

// Ask is one control's request for human approval.
type Ask struct {
	Interceptor string
	Rule        string
	Reason      string
}

// ApprovalNeeded is returned by [Chain.Request] when the request may
// proceed only if a human approves it.
type ApprovalNeeded struct {
	Asks []Ask
}

func (a *ApprovalNeeded) Error() string {
	rules := make([]string, len(a.Asks))
	for i, x := range a.Asks {
		rules[i] = x.Rule
	}
	return fmt.Sprintf("approval needed (%s)", strings.Join(rules, ", "))
}

// Denial returns the denial to use when the approval is not given.
func (a *ApprovalNeeded) Denial(why string) *Denial {
	first := a.Asks[0]
	return &Denial{Verdict: DenyVerdict(first.Rule, first.Reason+"; "+why), Interceptor: first.Interceptor}
}

// MetaApproval is the [Call] Meta key under which the gateway records the
// human's answer to an approval request: an [Approval].
const MetaApproval = "pipeline.approval"

// Approval records how an approval request was answered.
type Approval struct {
	Rules    []string
	Approved bool
	// How: "elicitation" or "input_required" (how the answer came),
	// "asked" (the question went to the client, the answer comes with its
	// retry), "unavailable" (the client cannot ask) or "declined" (the
	// answer did not match the question).
	How string
}

// AuditDecision gives the audit log the answer as one of its decisions
// (it implements audit.Decider, which controls find in Call.Meta).
func (a Approval) AuditDecision() (action, rule, reason string) {
	rule = strings.Join(a.Rules, ",")
	if a.Approved {
		return "approve", rule, "approved by the user (asked with " + a.How + ")"
	}
	switch a.How {
	case "unavailable":
		return "deny", rule, "not approved: the client cannot ask the user"
	case "asked":
		return "approve", rule, "the user is being asked (input_required); the answer comes with the client's retry"
	}
	return "deny", rule, "the user did not approve it"
}

// Response runs every ResponseInterceptor in reverse order and returns the
// (possibly rewritten) result, or a *[Denial].
func (ch *Chain) Response(ctx context.Context, c *Call, res json.RawMessage) (json.RawMessage, error) {
	if ch == nil {
		return res, nil
	}
	for _, r := range ch.resps {
		out, v, err := r.Response(ctx, c, res)
		if err != nil {
			return nil, controlFailure(r.name, err)
		}
		if v.Deny {
			return nil, &Denial{Verdict: v, Interceptor: r.name}
		}
		if out != nil {
			res = out
		}
	}
	return res, nil
}

// Notification runs every NotificationInterceptor in order. A non-nil
// error means the notification must be dropped.
func (ch *Chain) Notification(ctx context.Context, n *Note) error {
	if ch == nil {
		return nil
	}
	for _, ni := range ch.notes {
		v, err := ni.Notification(ctx, n)
		if err != nil {
			return controlFailure(ni.name, err)
		}
		if v.Deny {
			return &Denial{Verdict: v, Interceptor: ni.name}
		}
	}
	return nil
}

// Finish tells every Finisher how the call ended. err is the chain denial
// or upstream error, if any.
func (ch *Chain) Finish(ctx context.Context, c *Call, res json.RawMessage, err error) {
	if ch == nil || len(ch.finish) == 0 {
		return
	}
	v := Allow
	if d, ok := AsDenial(err); ok {
		v = d.Verdict
	}
	for _, f := range ch.finish {
		f.Finish(ctx, c, res, v, err)
	}
}

func controlFailure(name string, err error) *Denial {
	return &Denial{
		Verdict: Verdict{
			Deny:   true,
			Rule:   RuleControlError,
			Reason: fmt.Sprintf("the %s control could not run, so the request was denied", name),
		},
		Interceptor: name,
		Cause:       err,
	}
}
