package access

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"mcpwarden/internal/confval"
)

// Caller is the caller as rules see it: caller.subject, caller.method,
// caller.groups, caller.claims, caller.anonymous.
type Caller struct {
	Subject   string         `cel:"subject"`
	Method    string         `cel:"method"`
	Groups    []string       `cel:"groups"`
	Claims    map[string]any `cel:"claims"`
	Anonymous bool           `cel:"anonymous"`
}

// Annotations are the called tool's annotations as its server declared
// them, with the MCP defaults for missing hints: readOnlyHint false,
// destructiveHint true, idempotentHint false, openWorldHint true. They are
// hints from the server, not facts: a rule that trusts readOnlyHint trusts
// the server.
type Annotations struct {
	ReadOnlyHint    bool   `cel:"readOnlyHint" json:"readOnlyHint"`
	DestructiveHint bool   `cel:"destructiveHint" json:"destructiveHint"`
	IdempotentHint  bool   `cel:"idempotentHint" json:"idempotentHint"`
	OpenWorldHint   bool   `cel:"openWorldHint" json:"openWorldHint"`
	Title           string `cel:"title" json:"title"`
}

// DefaultAnnotations are the hints of a tool that declares none.
var DefaultAnnotations = Annotations{DestructiveHint: true, OpenWorldHint: true}

// Variables are the names a rule's condition may use, with their types,
// in the order the documentation lists them.
var Variables = []struct{ Name, Type, Doc string }{
	{"caller", "object", "the caller: subject, method (api_key, jwt, stdio or \"\"), groups, claims, anonymous"},
	{"server", "string", "the configured name of the upstream server"},
	{"method", "string", "the MCP method: tools/call, prompts/get, resources/read, resources/subscribe or completion/complete"},
	{"kind", "string", "tool, prompt or resource"},
	{"name", "string", "the tool or prompt name as its server knows it, or the resource URI"},
	{"tool", "string", "the tool name for tool calls, else \"\""},
	{"prompt", "string", "the prompt name for prompt requests, else \"\""},
	{"resource", "string", "the resource URI for resource requests, else \"\""},
	{"args", "map(string, dyn)", "the call's arguments (tools/call, prompts/get), else {}"},
	{"annotations", "object", "the tool's annotations: readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title"},
}

// costLimit bounds one evaluation, so that a rule iterating over a huge
// argument cannot stall the gateway; exceeding it is an evaluation error,
// which denies.
const costLimit = 1_000_000

func newEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[Caller](), reflect.TypeFor[Annotations](), ext.ParseStructTags(true)),
		ext.Strings(),
		ext.Sets(),
		cel.CrossTypeNumericComparisons(true),
	}
	for _, v := range Variables {
		var t *cel.Type
		switch v.Name {
		case "caller":
			t = cel.ObjectType("access.Caller")
		case "annotations":
			t = cel.ObjectType("access.Annotations")
		case "args":
			t = cel.MapType(cel.StringType, cel.DynType)
		default:
			t = cel.StringType
		}
		opts = append(opts, cel.Variable(v.Name, t))
	}
	return cel.NewEnv(opts...)
}

// Policy is a compiled access policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	rules []*rule
	def   Decision
	env   *cel.Env
}

type rule struct {
	Rule
	index   int
	prg     cel.Program // for calls
	partial cel.Program // for lists and lint, with unknowns
}

// Compile checks and compiles cfg. Every problem is reported, with paths
// relative to the section ("rules[2].when") and, for CEL errors, the line
// and column inside the expression.
func Compile(cfg Config) (*Policy, confval.Errors) {
	es := cfg.validate()
	env, err := newEnv()
	if err != nil {
		// The environment is fixed: failing to build it is a bug.
		panic(fmt.Sprintf("access: building the CEL environment: %v", err))
	}
	p := &Policy{def: cfg.Default, env: env}
	if p.def == "" {
		p.def = Allow
	}
	for i, r := range cfg.Rules {
		if strings.TrimSpace(r.When) == "" || len(r.When) > MaxExpressionBytes {
			continue // reported by validate
		}
		cr, rerrs := compileRule(env, i, r)
		es = append(es, rerrs...)
		if cr != nil {
			p.rules = append(p.rules, cr)
		}
	}
	if len(es) > 0 {
		return nil, es
	}
	return p, nil
}

func compileRule(env *cel.Env, i int, r Rule) (*rule, confval.Errors) {
	path := fmt.Sprintf("rules[%d].when", i)
	ast, iss := env.Compile(r.When)
	if iss.Err() != nil {
		var es confval.Errors
		for _, e := range iss.Errors() {
			loc := e.Location
			es = append(es, &confval.Error{Path: path, Msg: celMessage(e.Message), Line: loc.Line(), Column: loc.Column() + 1})
		}
		return nil, es
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, confval.Errors{confval.Errorf(path, "the condition must be true or false, but it is a %s", ast.OutputType())}
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, confval.Errors{confval.Errorf(path, "%s", celMessage(err.Error()))}
	}
	partial, err := env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptPartialEval))
	if err != nil {
		return nil, confval.Errors{confval.Errorf(path, "%s", celMessage(err.Error()))}
	}
	return &rule{Rule: r, index: i, prg: prg, partial: partial}, nil
}

// celMessage trims CEL's container note, which means nothing to users.
func celMessage(m string) string {
	return strings.TrimSuffix(m, " (in container '')")
}

// Default returns the decision when no rule matches.
func (p *Policy) Default() Decision { return p.def }

// Len returns the number of rules.
func (p *Policy) Len() int { return len(p.rules) }

// RuleID is the pipeline rule ID of a policy rule: "access." + id.
func RuleID(id string) string { return "access." + id }

// DefaultRule names decisions made by the default.
const DefaultRule = "access.default"
