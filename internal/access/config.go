package access

import (
	"fmt"
	"strings"

	"mcpwarden/internal/confval"
)

// Config is the policy.access section of the gateway config: an ordered
// list of rules and the decision when none matches.
//
//	access:
//	  default: deny
//	  rules:
//	    - id: contractors-read-only
//	      when: '"contractors" in caller.groups && !annotations.readOnlyHint'
//	      decision: deny
//	      reason: contractors may only use read-only tools
//	    - id: approve-deletes
//	      when: 'tool.startsWith("delete_")'
//	      decision: approve
//	    - id: team
//	      when: '"dev" in caller.groups'
//	      decision: allow
type Config struct {
	// Default applies when no rule matches. It must be set when there are
	// rules; with no rules at all, it is allow.
	Default Decision `yaml:"default"`
	// Rules are tried in order; the first whose condition holds decides.
	Rules []Rule `yaml:"rules"`
}

// Rule is one access rule.
type Rule struct {
	// ID names the rule in denials, audit records and `policy explain`
	// (as "access.ID"). Stable, lower-case.
	ID string `yaml:"id"`
	// When is a CEL expression over the request that yields true or
	// false (see the package documentation for its variables).
	When string `yaml:"when"`
	// Decision is what happens when the rule matches.
	Decision Decision `yaml:"decision"`
	// Reason is shown to the agent on a denial and to the human asked
	// for an approval. Empty means a generated one.
	Reason string `yaml:"reason"`
}

// Decision is allow, deny or approve.
type Decision string

// Decisions.
const (
	Allow   Decision = "allow"
	Deny    Decision = "deny"
	Approve Decision = "approve"
)

// UnmarshalText implements encoding.TextUnmarshaler, so that a bad value
// is reported at its line.
func (d *Decision) UnmarshalText(b []byte) error {
	switch v := Decision(b); v {
	case Allow, Deny, Approve:
		*d = v
		return nil
	}
	return fmt.Errorf("expected allow, deny or approve, got %q", b)
}

// MarshalText implements encoding.TextMarshaler.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d), nil }

// Enabled reports whether the section decides anything: a policy with no
// rules and an allow default lets everything through.
func (c *Config) Enabled() bool {
	return len(c.Rules) > 0 || (c.Default != "" && c.Default != Allow)
}

// MaxRules bounds the rule list.
const MaxRules = 1000

// MaxExpressionBytes bounds one rule's condition.
const MaxExpressionBytes = 16 << 10

// validate checks everything but the CEL expressions, which [Compile]
// checks.
func (c *Config) validate() confval.Errors {
	var es confval.Errors
	if len(c.Rules) > 0 && c.Default == "" {
		es.Add("default", "set default to allow, deny or approve: it decides every request no rule matches (deny is the safe choice for a shared gateway)")
	}
	if len(c.Rules) > MaxRules {
		es.Add("rules", "%d rules, more than the %d accepted", len(c.Rules), MaxRules)
	}
	ids := confval.NewIDs("rules", "rule needs an id: denials and audit records name it")
	for i, r := range c.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		ids.Check(&es, i, r.ID)
		if strings.TrimSpace(r.When) == "" {
			es.Add(p+".when", "every rule needs a condition; write 'true' for a rule that always matches")
		} else if len(r.When) > MaxExpressionBytes {
			es.Add(p+".when", "the condition is %d bytes, more than the %d accepted", len(r.When), MaxExpressionBytes)
		}
		if r.Decision == "" {
			es.Add(p+".decision", "expected allow, deny or approve")
		}
	}
	return es
}
