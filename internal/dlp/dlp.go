// Package dlp keeps credentials from leaving through tools that send data
// out. Before a tools/call reaches a tool labelled an exfiltration sink
// (policy.flows.tools, annotations such as openWorldHint, and the
// classifier: see package taint), every string in its arguments is
// searched for credentials with the detection engine's secret detector;
// each one is replaced with a typed placeholder ("[REDACTED:aws-access-key]",
// policy.secrets.sink_arguments: redact, the default) or the call is
// denied (deny). Results, prompts and resources are redacted by package
// outguard; the audit log redacts with the same detector.
//
// Only the secret's type is ever logged, never the secret.
package dlp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"mcpwarden/internal/audit"
	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/secrets"
	"mcpwarden/internal/taint"
)

// Rule IDs.
const (
	RuleArgument = "secrets.argument" // a credential in an argument to a sink (deny mode)
	RuleRedacted = "secrets.redacted" // recorded when one was redacted
)

// Options configures the control.
type Options struct {
	Policy  config.SecretsPolicy // with defaults applied
	Labeler *taint.Labeler
	Secrets *secrets.Detector // nil builds the default
	Logger  *slog.Logger
}

// Interceptor is the control. It is safe for concurrent use.
type Interceptor struct {
	deny   bool
	labels *taint.Labeler
	sec    *secrets.Detector
	log    *slog.Logger
}

var _ pipeline.Interceptor = (*Interceptor)(nil)

// New builds the control; it returns nil when the policy allows
// credentials to sinks.
func New(opts Options) (*Interceptor, error) {
	if opts.Policy.SinkArguments == config.SecretsAllow {
		return nil, nil
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ic := &Interceptor{deny: opts.Policy.SinkArguments == config.SecretsDeny, labels: opts.Labeler, sec: opts.Secrets, log: log.With("component", "dlp")}
	var err error
	if ic.labels == nil {
		if ic.labels, err = taint.NewLabeler(config.FlowsPolicy{}); err != nil {
			return nil, err
		}
	}
	if ic.sec == nil {
		if ic.sec, err = secrets.New(secrets.Options{}); err != nil {
			return nil, fmt.Errorf("building the secret detector: %w", err)
		}
	}
	return ic, nil
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "dlp" }

// Request implements [pipeline.Interceptor].
func (ic *Interceptor) Request(ctx context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Method != "tools/call" || c.Direction != pipeline.ToServer || c.Server == "" {
		return pipeline.Allow, nil
	}
	l := ic.labels.LabelCall(c)
	if l.Sink == "" {
		return pipeline.Allow, nil
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(c.Params, &params); err != nil {
		return pipeline.Allow, nil // the arguments control reports malformed params
	}
	raw := params["arguments"]
	if len(raw) == 0 {
		return pipeline.Allow, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var args any
	if err := dec.Decode(&args); err != nil {
		return pipeline.Allow, nil
	}
	found := map[string][]string{} // argument path → secret types
	args = ic.walk("", args, found)
	if len(found) == 0 {
		return pipeline.Allow, nil
	}
	paths := make([]string, 0, len(found))
	for p := range found {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var what []string
	for _, p := range paths {
		what = append(what, fmt.Sprintf("%s (%s)", p, strings.Join(found[p], ", ")))
	}
	if ic.deny {
		ic.log.Warn("call denied: credentials in the arguments of a sink", "server", c.Server, "tool", c.Name, "arguments", what)
		return pipeline.DenyVerdict(RuleArgument, fmt.Sprintf("argument %s holds a credential, and %s/%s can send data out (%s)", strings.Join(what, ", argument "), c.Server, c.Name, l.Sink)), nil
	}
	b, err := json.Marshal(args)
	if err != nil {
		return pipeline.Verdict{}, fmt.Errorf("re-encoding redacted arguments: %w", err)
	}
	params["arguments"] = b
	np, err := json.Marshal(params)
	if err != nil {
		return pipeline.Verdict{}, fmt.Errorf("re-encoding redacted params: %w", err)
	}
	c.Params = np
	reason := fmt.Sprintf("credentials redacted from argument %s before %s/%s, which can send data out", strings.Join(what, ", argument "), c.Server, c.Name)
	c.Set("dlp.arguments", audit.Mark{Action: audit.Rewrite, Rule: RuleRedacted, Reason: reason})
	ic.log.Info("credentials redacted from the arguments of a sink", "server", c.Server, "tool", c.Name, "arguments", what)
	return pipeline.Allow, nil
}

// walk redacts every string of v, recording what it found under path.
func (ic *Interceptor) walk(path string, v any, found map[string][]string) any {
	switch x := v.(type) {
	case string:
		red, ms := ic.sec.Redact(x)
		for _, m := range ms {
			p := path
			if p == "" {
				p = "(arguments)"
			}
			if !contains(found[p], m.Type) {
				found[p] = append(found[p], m.Type)
			}
		}
		return red
	case map[string]any:
		for k, e := range x {
			x[k] = ic.walk(join(path, k), e, found)
		}
	case []any:
		for i, e := range x {
			x[i] = ic.walk(fmt.Sprintf("%s[%d]", path, i), e, found)
		}
	}
	return v
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
