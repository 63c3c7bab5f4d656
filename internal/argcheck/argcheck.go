// Package argcheck is the gateway's argument control: every tools/call is
// validated against the tool's inputSchema, and against the per-tool,
// per-argument constraints of policy.arguments, before the server sees
// it.
//
// Schema validation uses JSON Schema 2020-12 (other drafts by $schema)
// with no loader at all: a $ref to a file or a URL fails the schema
// instead of reading the disk or the network. Each distinct schema is
// compiled once, cached by the SHA-256 of its bytes, and refused when it
// is too large, too deep, or so composed that validation could take
// exponential time ([MaxCost]). A refused or uncompilable schema never
// passes silently: calls of the tool are denied ([RuleSchemaInvalid]),
// or, with invalid_schema: skip, validated against the constraints only
// and logged at every call.
//
// Constraints ([config.ArgumentRule]): pattern, enum, max_length;
// path_root (the value must resolve inside the given directories in
// every decoded form, symlinks resolved); url (scheme and host
// allowlists, and every address the host resolves to must be public or
// explicitly allowed, whatever its spelling); command (an allowed
// command and no shell metacharacters); deny_findings (detection-engine
// findings the value may not trigger). A violation denies the call with a
// tool error naming the argument and the rule ("args.path_root").
//
// What the url check cannot do: it checks the value, not what the server
// does with it. A server that follows a redirect, or resolves the name
// again and gets another answer, reaches wherever that leads; the
// sandbox's egress proxy (package egress) checks every connection and
// redirect a sandboxed server makes, which is the second line.
package argcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"mcpwarden/internal/config"
	"mcpwarden/internal/detect"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/pipeline"
)

// Options configures the control.
type Options struct {
	// Policy is policy.arguments, with defaults applied.
	Policy config.ArgumentsPolicy
	// Path resolves directories written in the configuration (relative to
	// the file); nil uses them as given.
	Path func(string) string
	// Engine runs deny_findings; nil builds the default engine when a
	// rule needs it.
	Engine *detect.Engine
	// Resolver resolves the hosts of url arguments; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Home is what a leading ~ in a path argument expands to; "" means the
	// gateway user's home directory.
	Home   string
	Logger *slog.Logger
}

// Interceptor is the arguments control. It is safe for concurrent use.
type Interceptor struct {
	schemaOn bool
	skipBad  bool
	rules    []toolRules
	engine   *detect.Engine
	res      Resolver
	log      *slog.Logger
	schemas  schemas

	mu    sync.RWMutex
	tools map[string]*compiled // tool definition JSON → its compiled inputSchema
}

var _ pipeline.Interceptor = (*Interceptor)(nil)

// New compiles the policy. Directories named by path_root must exist.
func New(opts Options) (*Interceptor, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := opts.Path
	if path == nil {
		path = func(s string) string { return s }
	}
	home := opts.Home
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	rules, err := compileRules(opts.Policy, path, home)
	if err != nil {
		return nil, err
	}
	ic := &Interceptor{
		schemaOn: opts.Policy.Schema != config.SchemaOff,
		skipBad:  opts.Policy.InvalidSchema == config.InvalidSchemaSkip,
		rules:    rules,
		engine:   opts.Engine,
		res:      opts.Resolver,
		log:      log.With("component", "argcheck"),
		tools:    map[string]*compiled{},
	}
	if ic.res == nil {
		ic.res = net.DefaultResolver
	}
	needEngine := false
	for _, t := range rules {
		for _, a := range t.args {
			needEngine = needEngine || len(a.findings) > 0
		}
	}
	if needEngine && ic.engine == nil {
		if ic.engine, err = detect.New(detect.Options{}); err != nil {
			return nil, fmt.Errorf("building the detection engine for deny_findings: %w", err)
		}
	}
	return ic, nil
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "arguments" }

type callParams struct {
	Arguments json.RawMessage `json:"arguments"`
}

// Request implements [pipeline.Interceptor].
func (ic *Interceptor) Request(ctx context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Method != "tools/call" || c.Direction != pipeline.ToServer || c.Server == "" {
		return pipeline.Allow, nil
	}
	var rules []*toolRules
	for i := range ic.rules {
		if ic.rules[i].match.Match(c.Server, c.Name) {
			rules = append(rules, &ic.rules[i])
		}
	}
	var sch *compiled
	if ic.schemaOn && c.Catalog != nil {
		if def, ok := c.Catalog.Tool(c.Server, c.Name); ok {
			sch = ic.schemaOf(def)
		}
	}
	if sch == nil && len(rules) == 0 {
		return pipeline.Allow, nil
	}
	var p callParams
	if err := json.Unmarshal(c.Params, &p); err != nil {
		return pipeline.DenyVerdict(RuleSchema, "the request params are not a JSON object"), nil
	}
	raw := bytes.TrimSpace(p.Arguments)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return pipeline.DenyVerdict(RuleSchema, "the arguments are not valid JSON"), nil
	}
	args, ok := inst.(map[string]any)
	if !ok {
		return pipeline.DenyVerdict(RuleSchema, fmt.Sprintf("the arguments must be a JSON object, got %s", jsonKind(inst))), nil
	}

	if sch != nil {
		switch {
		case sch.err != nil && !ic.skipBad:
			return pipeline.DenyVerdict(RuleSchemaInvalid, fmt.Sprintf("the input schema of %s/%s cannot be validated, so calls are denied: %v", c.Server, c.Name, sch.err)), nil
		case sch.err != nil:
			ic.log.Warn("tool called without schema validation: its input schema cannot be validated", "server", c.Server, "tool", c.Name, "err", sch.err)
		case deeperThan(inst, MaxDepth):
			return pipeline.DenyVerdict(RuleSchema, fmt.Sprintf("the arguments nest deeper than %d levels", MaxDepth)), nil
		default:
			if err := sch.schema.Validate(inst); err != nil {
				return pipeline.DenyVerdict(RuleSchema, "the arguments do not match the tool's input schema: "+describe(err)), nil
			}
		}
	}

	var found []finding.Finding
	inspected := false
	findings := func() []finding.Finding {
		if !inspected {
			inspected = true
			v, err := ic.engine.InspectArguments(raw)
			if err != nil {
				// Unreadable arguments cannot be cleared by a deny-list.
				found = []finding.Finding{{RuleID: "args.uninspectable", Category: finding.InputValidation, Title: err.Error(),
					Evidence: []finding.Evidence{{Field: "arguments"}}}}
			} else {
				found = v.Findings
			}
		}
		return found
	}
	for _, tr := range rules {
		for i := range tr.args {
			ar := &tr.args[i]
			for _, val := range selectValues(args, ar.name) {
				if v := ar.check(ctx, ic.res, val, findings); v != nil {
					if v.rule == RuleFindings && found != nil && len(found) > 0 && found[0].RuleID == "args.uninspectable" {
						return pipeline.DenyVerdict(RuleFindings, fmt.Sprintf("argument %q could not be inspected, so deny_findings cannot clear it: %s", v.arg, found[0].Title)), nil
					}
					return pipeline.DenyVerdict(v.rule, v.reason()), nil
				}
			}
		}
	}
	return pipeline.Allow, nil
}

// schemaOf returns the compiled inputSchema of a tool definition. The
// definition JSON keys the cache, so no hashing happens per call.
func (ic *Interceptor) schemaOf(def []byte) *compiled {
	ic.mu.RLock()
	c, ok := ic.tools[string(def)]
	ic.mu.RUnlock()
	if ok {
		return c
	}
	var t struct {
		InputSchema json.RawMessage `json:"inputSchema"`
	}
	if err := json.Unmarshal(def, &t); err != nil {
		c = &compiled{err: fmt.Errorf("the tool definition is not JSON: %w", err)}
	} else if len(bytes.TrimSpace(t.InputSchema)) == 0 || bytes.Equal(bytes.TrimSpace(t.InputSchema), []byte("null")) {
		c = &compiled{err: fmt.Errorf("the tool has no input schema")}
	} else {
		c = ic.schemas.get(t.InputSchema)
		if c.err != nil {
			ic.log.Warn("a tool's input schema cannot be validated", "err", c.err)
		}
	}
	ic.mu.Lock()
	if len(ic.tools) >= maxCached {
		ic.tools = map[string]*compiled{}
	}
	ic.tools[string(def)] = c
	ic.mu.Unlock()
	return c
}
