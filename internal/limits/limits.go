// Package limits bounds how much callers can do through the gateway: token
// bucket rate limits per caller, tool, server or session; the size of
// arguments and of results; and per-tool call timeouts. It is the
// policy.limits section of the gateway config.
//
// A rate-limited request is denied with the time to wait before trying
// again. Oversized arguments are denied before the upstream sees them;
// an oversized result is replaced by an error naming the limit. Both name
// the limit (its key in the config) so the operator knows what to raise.
//
// Timeouts are set on the call ([pipeline.Call].Timeout), which the
// gateway applies to the upstream request instead of the server's
// call_timeout.
package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"mcpwarden/internal/pipeline"
)

// Rule IDs of denials.
const (
	RuleArgumentSize = "limits.argument_size"
	RuleResultSize   = "limits.result_size"
	// RuleRatePrefix + the limit's id names rate-limit denials.
	RuleRatePrefix = "limits.rate."
)

// Options configures an [Interceptor].
type Options struct {
	Config Config
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Interceptor enforces a limits section. It is safe for concurrent use.
type Interceptor struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	rates []*rateLimit
}

type rateLimit struct {
	RateLimit
	lim     *limiter
	methods []string
	desc    string
}

var (
	_ pipeline.Interceptor         = (*Interceptor)(nil)
	_ pipeline.ResponseInterceptor = (*ResultGuard)(nil)
)

// New builds the interceptor. The config must have passed
// [Config.Validate].
func New(opts Options) (*Interceptor, error) {
	if es := opts.Config.Validate(); len(es) > 0 {
		return nil, fmt.Errorf("policy.limits: %w", es)
	}
	ic := &Interceptor{cfg: opts.Config, log: opts.Logger, now: opts.Now}
	if ic.log == nil {
		ic.log = slog.New(slog.DiscardHandler)
	}
	ic.log = ic.log.With("component", "limits")
	if ic.now == nil {
		ic.now = time.Now
	}
	for _, r := range opts.Config.Rate {
		rl := &rateLimit{RateLimit: r, lim: newLimiter(r.Rate, r.Burst), methods: r.Methods}
		if len(rl.methods) == 0 {
			rl.methods = []string{"tools/call"}
		}
		rl.desc = describeRate(r, int(rl.lim.burst))
		ic.rates = append(ic.rates, rl)
	}
	return ic, nil
}

// describeRate says what a limit allows: "20 requests per second per
// caller (bursts of 40)".
func describeRate(r RateLimit, burst int) string {
	var b strings.Builder
	what := "calls"
	if slices.Contains(r.Methods, "*") {
		what = "requests"
	}
	unit := map[time.Duration]string{time.Second: "second", time.Minute: "minute", time.Hour: "hour"}[r.Rate.Period]
	if unit == "" {
		unit = r.Rate.Period.String()
	}
	fmt.Fprintf(&b, "%d %s per %s", r.Rate.N, what, unit)
	if len(r.Per) > 0 {
		b.WriteString(" per " + strings.Join(r.Per, " and "))
	}
	if len(r.Tools) > 0 {
		b.WriteString(" to " + strings.Join(r.Tools, ", "))
	}
	if burst != r.Rate.N {
		fmt.Fprintf(&b, " (bursts of %d)", burst)
	}
	return b.String()
}

// Name implements [pipeline.Interceptor].
func (*Interceptor) Name() string { return "limits" }

// subject is what tool patterns match: "server/name".
func subject(c *pipeline.Call) string { return c.Server + "/" + c.Name }

// Request implements [pipeline.Interceptor]: rate limits, the argument
// size, and the call timeout.
func (ic *Interceptor) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Direction != pipeline.ToServer {
		return pipeline.Allow, nil
	}
	if v := ic.checkArguments(c); v.Deny {
		return v, nil
	}
	if v := ic.checkRates(c); v.Deny {
		return v, nil
	}
	if c.Server != "" {
		switch c.Method {
		case "tools/call", "prompts/get", "resources/read":
			if t := ic.timeout(subject(c)); t > 0 {
				c.Timeout = t
			}
		}
	}
	return pipeline.Allow, nil
}

func (ic *Interceptor) checkArguments(c *pipeline.Call) pipeline.Verdict {
	if c.Method != "tools/call" && c.Method != "prompts/get" {
		return pipeline.Allow
	}
	limit, key := ic.argumentLimit(subject(c))
	if limit <= 0 || int64(len(c.Params)) <= limit {
		// The arguments are part of the params: nothing to measure.
		return pipeline.Allow
	}
	var p struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	_ = json.Unmarshal(c.Params, &p)
	n := int64(len(p.Arguments))
	if n <= limit {
		return pipeline.Allow
	}
	return pipeline.DenyVerdict(RuleArgumentSize, fmt.Sprintf("the arguments are %d bytes, more than the %d allowed for %s by %s", n, limit, subject(c), key))
}

func (ic *Interceptor) checkRates(c *pipeline.Call) pipeline.Verdict {
	if len(ic.rates) == 0 {
		return pipeline.Allow
	}
	now := ic.now()
	subj := subject(c)
	type taken struct {
		rl  *rateLimit
		key string
	}
	var got [8]taken
	took := got[:0]
	for _, rl := range ic.rates {
		if !rl.applies(c, subj) {
			continue
		}
		key := rl.key(c, subj)
		ok, wait := rl.lim.take(key, now)
		if ok {
			took = append(took, taken{rl, key})
			continue
		}
		// Refused: return the tokens the other limits gave this request.
		for _, t := range took {
			t.rl.lim.give(t.key)
		}
		ic.log.Info("rate limit exceeded", "limit", rl.ID, "caller", c.Caller.Subject, "server", c.Server, "name", c.Name, "retry_after", wait)
		return pipeline.DenyVerdict(RuleRatePrefix+rl.ID, fmt.Sprintf("rate limit %s exceeded: at most %s; retry after %s", rl.ID, rl.desc, retryAfter(wait)))
	}
	return pipeline.Allow
}

// retryAfter rounds a wait up to what a person reads: "0.2s", "3s", "2m0s".
func retryAfter(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.1fs", math.Max(0.1, math.Ceil(d.Seconds()*10)/10))
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", math.Ceil(d.Seconds()))
	}
	return d.Round(time.Second).String()
}

func (rl *rateLimit) applies(c *pipeline.Call, subj string) bool {
	if !slices.Contains(rl.methods, "*") && !slices.Contains(rl.methods, c.Method) {
		return false
	}
	if len(rl.Tools) == 0 {
		return true
	}
	if c.Server == "" {
		return false
	}
	for _, p := range rl.Tools {
		if match(p, subj) {
			return true
		}
	}
	return false
}

func (rl *rateLimit) key(c *pipeline.Call, subj string) string {
	if len(rl.Per) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range rl.Per {
		switch p {
		case PerCaller:
			// The method qualifies the subject: an API key and a JWT
			// subject of the same name are different callers.
			b.WriteString(c.Caller.Method)
			b.WriteByte(':')
			b.WriteString(c.Caller.Subject)
		case PerServer:
			b.WriteString(c.Server)
		case PerTool:
			b.WriteString(subj)
		case PerSession:
			b.WriteString(c.Session)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// argumentLimit returns the argument limit for a tool and the config key
// that sets it.
func (ic *Interceptor) argumentLimit(subj string) (int64, string) {
	for i, t := range ic.cfg.Tools {
		if t.MaxArgumentBytes > 0 && match(t.Match, subj) {
			return t.MaxArgumentBytes.Int(), fmt.Sprintf("policy.limits.tools[%d].max_argument_bytes", i)
		}
	}
	return ic.cfg.MaxArgumentBytes.Int(), "policy.limits.max_argument_bytes"
}

func (ic *Interceptor) resultLimit(subj string) (int64, string) {
	for i, t := range ic.cfg.Tools {
		if t.MaxResultBytes > 0 && match(t.Match, subj) {
			return t.MaxResultBytes.Int(), fmt.Sprintf("policy.limits.tools[%d].max_result_bytes", i)
		}
	}
	return ic.cfg.MaxResultBytes.Int(), "policy.limits.max_result_bytes"
}

func (ic *Interceptor) timeout(subj string) time.Duration {
	for _, t := range ic.cfg.Tools {
		if t.Timeout > 0 && match(t.Match, subj) {
			return t.Timeout.D()
		}
	}
	return 0
}

// ResultGuard returns the result-size check as an interceptor of its own,
// to be placed at the end of the chain: responses pass the chain back to
// front, so it is then the first control to see a result, and an
// oversized one is refused before any content control spends time on it.
func (ic *Interceptor) ResultGuard() *ResultGuard { return &ResultGuard{ic: ic} }

// ResultGuard refuses results larger than the limit (see
// [Interceptor.ResultGuard]).
type ResultGuard struct{ ic *Interceptor }

// Name implements [pipeline.Interceptor]; denials name the limits control.
func (*ResultGuard) Name() string { return "limits" }

// Request implements [pipeline.Interceptor]: requests are the
// [Interceptor]'s business.
func (*ResultGuard) Request(context.Context, *pipeline.Call) (pipeline.Verdict, error) {
	return pipeline.Allow, nil
}

// Response implements [pipeline.ResponseInterceptor].
func (g *ResultGuard) Response(_ context.Context, c *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	return g.ic.checkResult(c, res)
}

// checkResult refuses results larger than the limit.
func (ic *Interceptor) checkResult(c *pipeline.Call, res json.RawMessage) (json.RawMessage, pipeline.Verdict, error) {
	if c.Direction != pipeline.ToServer {
		return res, pipeline.Allow, nil
	}
	switch c.Method {
	case "tools/call", "prompts/get", "resources/read":
	default:
		return res, pipeline.Allow, nil
	}
	limit, key := ic.resultLimit(subject(c))
	if limit <= 0 || int64(len(res)) <= limit {
		return res, pipeline.Allow, nil
	}
	ic.log.Warn("result over the size limit withheld", "server", c.Server, "name", c.Name, "bytes", len(res), "limit", limit)
	return nil, pipeline.DenyVerdict(RuleResultSize, fmt.Sprintf("the result is %d bytes, more than the %d allowed for %s by %s; it was withheld", len(res), limit, subject(c), key)), nil
}

// ArgumentLimit returns the argument size limit of a tool (0 for none)
// and the config key that sets it.
func (ic *Interceptor) ArgumentLimit(server, name string) (int64, string) {
	return ic.argumentLimit(server + "/" + name)
}

// Explain describes the limits that apply to a tool, for `mcpwarden
// policy explain`.
func (ic *Interceptor) Explain(server, name string) []string {
	subj := server + "/" + name
	var out []string
	if n, key := ic.argumentLimit(subj); n > 0 {
		out = append(out, fmt.Sprintf("arguments at most %d bytes (%s)", n, key))
	}
	if n, key := ic.resultLimit(subj); n > 0 {
		out = append(out, fmt.Sprintf("results at most %d bytes (%s)", n, key))
	}
	if t := ic.timeout(subj); t > 0 {
		out = append(out, fmt.Sprintf("call timeout %s", t))
	}
	c := &pipeline.Call{Method: "tools/call", Server: server, Name: name}
	for _, rl := range ic.rates {
		if rl.applies(c, subj) {
			out = append(out, fmt.Sprintf("rate limit %s: %s", rl.ID, rl.desc))
		}
	}
	return out
}
