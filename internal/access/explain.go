package access

import (
	"fmt"

	"cel.dev/cel-go/cel"
)

// Step is one rule's outcome in an [Explanation].
type Step struct {
	Index    int
	ID       string
	Decision Decision
	When     string
	// Outcome is "match", "no match", "error" or "not reached".
	Outcome string
	Err     error
}

// Explanation is how a request was decided, rule by rule.
type Explanation struct {
	Result Result
	Steps  []Step
}

// Explain decides a request like [Policy.Decide] and records what each
// rule did, for `mcpwarden policy explain`.
func (p *Policy) Explain(in *Input) Explanation {
	var ex Explanation
	act := newActivation(in, p.env.CELTypeAdapter())
	decided := false
	for _, r := range p.rules {
		st := Step{Index: r.index, ID: r.ID, Decision: r.Decision, When: r.When}
		switch {
		case decided:
			st.Outcome = "not reached"
		default:
			match, err := r.eval(act)
			switch {
			case err != nil:
				st.Outcome, st.Err, decided = "error", err, true
				ex.Result = Result{Decision: Deny, Rule: RuleID(r.ID), Index: r.index, Err: err,
					Reason: fmt.Sprintf("access rule %s could not be evaluated for this request, so it was denied", r.ID)}
			case match:
				st.Outcome, decided = "match", true
				ex.Result = p.result(r, in)
			default:
				st.Outcome = "no match"
			}
		}
		ex.Steps = append(ex.Steps, st)
	}
	if !decided {
		ex.Result = p.defaultResult(in)
	}
	return ex
}

// Lint is a finding of [Policy.Lint].
type Lint struct {
	Index int // rule index, -1 for the default
	ID    string
	Msg   string
}

// Lint looks for rules that cannot work as intended: conditions that
// always or never hold whatever the request, rules that can never be
// reached behind one that always matches, and a default that never
// applies. It evaluates each condition with every variable unknown, so
// what it reports holds for every request.
func (p *Policy) Lint() []Lint {
	var out []Lint
	var pats []*cel.AttributePatternType
	for _, v := range Variables {
		pats = append(pats, cel.AttributePattern(v.Name))
	}
	vars, err := cel.PartialVars(newActivation(&Input{}, p.env.CELTypeAdapter()), pats...)
	if err != nil {
		return []Lint{{Index: -1, Msg: "lint could not run: " + err.Error()}}
	}
	always := -1
	seen := make(map[string]string)
	for _, r := range p.rules {
		if always >= 0 {
			out = append(out, Lint{Index: r.index, ID: r.ID, Msg: fmt.Sprintf("unreachable: rule %s before it always matches", p.rules[always].ID)})
			continue
		}
		if first, dup := seen[r.When]; dup {
			out = append(out, Lint{Index: r.index, ID: r.ID, Msg: fmt.Sprintf("unreachable: rule %s has the same condition and comes first", first)})
			continue
		}
		seen[r.When] = r.ID
		m, err := r.evalPartial(vars)
		switch {
		case err != nil:
			out = append(out, Lint{Index: r.index, ID: r.ID, Msg: "fails for every request: " + err.Error()})
		case m == matchYes:
			always = indexOf(p.rules, r)
			if r.index != p.rules[len(p.rules)-1].index {
				out = append(out, Lint{Index: r.index, ID: r.ID, Msg: "always matches, so the rules after it never apply"})
			}
		case m == matchNo:
			out = append(out, Lint{Index: r.index, ID: r.ID, Msg: "never matches: the condition is false for every request"})
		}
	}
	if always >= 0 {
		out = append(out, Lint{Index: -1, ID: "default", Msg: fmt.Sprintf("never applies: rule %s always matches", p.rules[always].ID)})
	}
	return out
}

func indexOf(rules []*rule, r *rule) int {
	for i, x := range rules {
		if x == r {
			return i
		}
	}
	return -1
}
