package access

import (
	"encoding/json"
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"mcpwarden/internal/pipeline"
)

// Kinds of request.
const (
	KindTool     = "tool"
	KindPrompt   = "prompt"
	KindResource = "resource"
)

// Input is what the rules see about one request.
type Input struct {
	Caller pipeline.Identity
	Server string
	Method string
	Kind   string
	Name   string
	// Args are the request's arguments as JSON (an object), or nil.
	Args json.RawMessage
	// Annotations of the called tool; zero for prompts and resources.
	Annotations Annotations
}

// Result is a decision and what made it.
type Result struct {
	Decision Decision
	// Rule is the deciding rule's pipeline ID ("access.ID"), or
	// [DefaultRule].
	Rule string
	// Index is the deciding rule's position in the config, -1 for the
	// default.
	Index int
	// Reason is the rule's reason, or a generated one; safe for the agent.
	Reason string
	// Err is set when a rule could not be evaluated; Decision is then
	// deny and Rule names the failing rule.
	Err error
}

// activation serves one evaluation's variables without building a map.
// The arguments are decoded on first use, so rules that do not look at
// them cost no JSON decoding.
type activation struct {
	in      *Input
	caller  Caller
	callerV ref.Val // caller, converted once for every rule
	annV    ref.Val
	adapter types.Adapter
	args    ref.Val
	decoded bool
}

var _ interpreter.Activation = (*activation)(nil)

func newActivation(in *Input, adapter types.Adapter) *activation {
	id := in.Caller
	return &activation{in: in, adapter: adapter, caller: Caller{Subject: id.Subject, Method: id.Method, Groups: id.Groups, Claims: id.Claims, Anonymous: id.Anonymous()}}
}

func (a *activation) ResolveName(name string) (any, bool) {
	in := a.in
	switch name {
	case "caller":
		if a.callerV == nil {
			a.callerV = a.adapter.NativeToValue(&a.caller)
		}
		return a.callerV, true
	case "server":
		return in.Server, true
	case "method":
		return in.Method, true
	case "kind":
		return in.Kind, true
	case "name":
		return in.Name, true
	case "tool":
		return when(in.Kind == KindTool, in.Name), true
	case "prompt":
		return when(in.Kind == KindPrompt, in.Name), true
	case "resource":
		return when(in.Kind == KindResource, in.Name), true
	case "args":
		if !a.decoded {
			a.decoded = true
			m, err := decodeArgs(in.Args)
			if err != nil {
				a.args = types.NewErr("the arguments cannot be judged: %v", err)
			} else {
				a.args = a.adapter.NativeToValue(m)
			}
		}
		return a.args, true
	case "annotations":
		if a.annV == nil {
			a.annV = a.adapter.NativeToValue(&a.in.Annotations)
		}
		return a.annV, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func when(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

var emptyArgs = map[string]any{}

func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return emptyArgs, nil
	}
	// Parsers disagree on which of two equal keys wins; a rule must not
	// judge one value while the server acts on the other.
	if err := noDuplicateKeys(raw); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return emptyArgs, nil
	}
	return m, nil
}

// Decide evaluates the rules in order for a request; the first that
// matches decides. A rule that cannot be evaluated denies, naming itself
// (fail closed).
func (p *Policy) Decide(in *Input) Result {
	act := newActivation(in, p.env.CELTypeAdapter())
	for _, r := range p.rules {
		match, err := r.eval(act)
		if err != nil {
			return Result{Decision: Deny, Rule: RuleID(r.ID), Index: r.index, Err: err,
				Reason: fmt.Sprintf("access rule %s could not be evaluated for this request, so it was denied", r.ID)}
		}
		if match {
			return p.result(r, in)
		}
	}
	return p.defaultResult(in)
}

func (r *rule) eval(act interpreter.Activation) (bool, error) {
	out, _, err := r.prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the condition evaluated to %v, not true or false", out)
	}
	return bool(b), nil
}

func (p *Policy) result(r *rule, in *Input) Result {
	res := Result{Decision: r.Decision, Rule: RuleID(r.ID), Index: r.index, Reason: r.Reason}
	if res.Reason == "" {
		switch r.Decision {
		case Deny:
			res.Reason = fmt.Sprintf("access rule %s does not allow %s", r.ID, describe(in))
		case Approve:
			res.Reason = fmt.Sprintf("access rule %s requires a human's approval: %s", r.ID, describe(in))
		}
	}
	return res
}

func (p *Policy) defaultResult(in *Input) Result {
	res := Result{Decision: p.def, Rule: DefaultRule, Index: -1}
	switch p.def {
	case Deny:
		res.Reason = fmt.Sprintf("no access rule allows %s, and the policy denies by default", describe(in))
	case Approve:
		res.Reason = fmt.Sprintf("no access rule covers this request, and the policy asks a human by default: %s", describe(in))
	}
	return res
}

// describe names a request for reasons: "alice calling tool github/delete_repo".
func describe(in *Input) string {
	who := in.Caller.Subject
	if who == "" {
		who = "an anonymous caller"
	}
	return fmt.Sprintf("%s to use %s %s/%s", who, in.Kind, in.Server, in.Name)
}

// Unknowns are the variables [Policy.Visible] may treat as unknown.
type Unknowns struct {
	Args bool // the arguments (always, for list items)
	Name bool // name and resource (resource templates)
}

// Visible reports whether a list item (a tool, prompt or resource the
// caller might request) should be shown: whether some request for it
// could be allowed or approved. Rules are evaluated in order with the
// unknown parts left open, and a rule that might match decides only if it
// would not deny; so a tool denied only for some arguments stays listed,
// and a tool every request to which is denied is hidden. A rule that
// fails to evaluate hides the item (fail closed).
func (p *Policy) Visible(in *Input, u Unknowns) (bool, Result) {
	act := newActivation(in, p.env.CELTypeAdapter())
	var pats []*cel.AttributePatternType
	if u.Args {
		pats = append(pats, cel.AttributePattern("args"))
	}
	if u.Name {
		pats = append(pats, cel.AttributePattern("name"), cel.AttributePattern("resource"))
	}
	vars, err := cel.PartialVars(act, pats...)
	if err != nil {
		return false, Result{Decision: Deny, Err: err}
	}
	for _, r := range p.rules {
		m, err := r.evalPartial(vars)
		switch {
		case err != nil:
			return false, Result{Decision: Deny, Rule: RuleID(r.ID), Index: r.index, Err: err}
		case m == matchNo:
			continue
		case m == matchYes:
			res := p.result(r, in)
			return res.Decision != Deny, res
		case r.Decision != Deny:
			// Might match, and would let the request through.
			return true, p.result(r, in)
		}
		// Might match and deny: whether it does depends on the unknowns.
	}
	res := p.defaultResult(in)
	return res.Decision != Deny, res
}

type tristate uint8

const (
	matchNo tristate = iota
	matchYes
	matchMaybe
)

func (r *rule) evalPartial(vars interpreter.Activation) (tristate, error) {
	out, _, err := r.partial.Eval(vars)
	if err != nil {
		// With unknowns in play the interpreter may report an error for a
		// branch that an unknown would have short-circuited; only a
		// result that is an error everywhere counts.
		return matchNo, err
	}
	return toTristate(out)
}

func toTristate(out ref.Val) (tristate, error) {
	switch v := out.(type) {
	case types.Bool:
		if v {
			return matchYes, nil
		}
		return matchNo, nil
	case *types.Unknown:
		return matchMaybe, nil
	}
	if types.IsError(out) {
		return matchNo, errors.New(fmt.Sprint(out))
	}
	return matchNo, fmt.Errorf("the condition evaluated to %v, not true or false", out)
}
