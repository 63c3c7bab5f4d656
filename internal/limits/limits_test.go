package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/confval"
	"mcpwarden/internal/pipeline"
)

func TestRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"10/s", Rate{10, time.Second}, true},
		{"100/m", Rate{100, time.Minute}, true},
		{"1000/h", Rate{1000, time.Hour}, true},
		{"5/10s", Rate{5, 10 * time.Second}, true},
		{" 3 / minute ", Rate{3, time.Minute}, true},
		{"0/s", Rate{}, false},
		{"-1/s", Rate{}, false},
		{"10", Rate{}, false},
		{"10/fortnight", Rate{}, false},
		{"10/0s", Rate{}, false},
		{"x/s", Rate{}, false},
	}
	for _, tt := range tests {
		var r Rate
		err := r.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || r != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, ok %v", tt.in, r, err, tt.want, tt.ok)
		}
	}
	if got := (Rate{5, 10 * time.Second}).String(); got != "5/10s" {
		t.Errorf("String = %q", got)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"*", "github/create_issue", true},
		{"github/*", "github/create_issue", true},
		{"github/*", "gitlab/create_issue", false},
		{"github/create_*", "github/create_issue", true},
		{"github/create_issue", "github/create_issue", true},
		{"github/create_issue", "github/create_issues", false},
		{"*/delete_*", "fs/delete_file", true},
		{"*/delete_*", "fs/undelete", false},
		{"fs/*", "fs/file:///etc/passwd", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"good", "rate: [{id: a, per: [caller, tool], rate: 10/s, burst: 20, tools: ['gh/*'], methods: ['tools/call']}]\ntools: [{match: 'gh/*', timeout: 5s}]", nil},
		{"no id, no rate", "rate: [{per: [caller]}]", []string{"rate[0].id", "rate[0].rate"}},
		{"bad per", "rate: [{id: a, rate: 1/s, per: [user, caller, caller]}]", []string{"rate[0].per[0]", "rate[0].per[2]"}},
		{"duplicate id", "rate: [{id: a, rate: 1/s}, {id: a, rate: 2/s}]", []string{"rate[1].id"}},
		{"bad pattern", "rate: [{id: a, rate: 1/s, tools: [create_issue]}]", []string{"rate[0].tools[0]"}},
		{"too many stars", "tools: [{match: '*/*a*b*', timeout: 1s}]", []string{"tools[0].match"}},
		{"bad method", "rate: [{id: a, rate: 1/s, methods: [call]}]", []string{"rate[0].methods[0]"}},
		{"tool sets nothing", "tools: [{match: 'a/b'}]", []string{"tools[0]"}},
		{"tiny timeout", "tools: [{match: 'a/b', timeout: 1ms}]", []string{"tools[0].timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := yaml.Unmarshal([]byte(tt.yaml), &c); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range c.Validate() {
				got = append(got, e.Path)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("Validate() = %v, want errors at %v", got, tt.want)
			}
		})
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Unix(1_800_000_000, 0)} }
func mustNew(t testing.TB, c Config, clk *clock) *Interceptor {
	t.Helper()
	ic, err := New(Options{Config: c, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

func toolCall(who, server, name, args string) *pipeline.Call {
	p, _ := json.Marshal(map[string]any{"name": server + "__" + name, "arguments": json.RawMessage(args)})
	return &pipeline.Call{Caller: pipeline.Identity{Subject: who, Method: "api_key"}, Direction: pipeline.ToServer, Method: "tools/call", Server: server, Name: name, Params: p, Session: "s-" + who}
}

func TestRateLimits(t *testing.T) {
	clk := newClock()
	ic := mustNew(t, Config{Rate: []RateLimit{
		{ID: "per-caller", Per: []string{PerCaller}, Rate: Rate{2, time.Second}},
		{ID: "search", Per: []string{PerTool}, Tools: []string{"search/*"}, Rate: Rate{3, time.Minute}},
	}}, clk)
	ctx := context.Background()
	req := func(who, server, name string) pipeline.Verdict {
		t.Helper()
		v, err := ic.Request(ctx, toolCall(who, server, name, `{}`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Burst of 2 per caller.
	if v := req("alice", "fs", "read"); v.Deny {
		t.Fatalf("first call denied: %+v", v)
	}
	req("alice", "fs", "read")
	v := req("alice", "fs", "read")
	if !v.Deny || v.Rule != "limits.rate.per-caller" || !strings.Contains(v.Reason, "retry after 0.5s") || !strings.Contains(v.Reason, "2 calls per second per caller") {
		t.Errorf("third call in a second = %+v, want a denial saying to retry after 0.5s", v)
	}
	// Another caller has its own bucket.
	if v := req("bob", "fs", "read"); v.Deny {
		t.Errorf("bob denied by alice's bucket: %+v", v)
	}
	clk.add(500 * time.Millisecond)
	if v := req("alice", "fs", "read"); v.Deny {
		t.Errorf("after the refill time: %+v", v)
	}

	// The tool limit is shared by every caller of the tool.
	clk.add(time.Minute)
	for i, who := range []string{"a", "b", "c"} {
		if v := req(who, "search", "web"); v.Deny {
			t.Fatalf("search call %d denied: %+v", i, v)
		}
	}
	v = req("d", "search", "web")
	if !v.Deny || v.Rule != "limits.rate.search" || !strings.Contains(v.Reason, "retry after 20s") {
		t.Errorf("fourth search in a minute = %+v, want a denial saying to retry after 20s", v)
	}
	// d's per-caller token was given back when the search limit refused.
	if v := req("d", "fs", "read"); v.Deny {
		t.Errorf("d's next call: %+v", v)
	}
	if v := req("d", "fs", "read"); v.Deny {
		t.Errorf("d's token was not returned after the refusal: %+v", v)
	}
}

func TestRateLimitMethods(t *testing.T) {
	clk := newClock()
	ic := mustNew(t, Config{Rate: []RateLimit{
		{ID: "calls", Per: []string{PerCaller}, Rate: Rate{1, time.Second}},
		{ID: "everything", Per: []string{PerSession}, Methods: []string{"*"}, Rate: Rate{3, time.Second}},
	}}, clk)
	list := &pipeline.Call{Caller: pipeline.Identity{Subject: "a"}, Direction: pipeline.ToServer, Method: "tools/list", Session: "s1"}
	for i := range 3 {
		if v, _ := ic.Request(context.Background(), list); v.Deny {
			t.Fatalf("list %d denied: %+v", i, v)
		}
	}
	if v, _ := ic.Request(context.Background(), list); !v.Deny || v.Rule != "limits.rate.everything" || !strings.Contains(v.Reason, "requests per second per session") {
		t.Errorf("fourth request = %+v, want the session limit", v)
	}
	// Server-to-client requests are never counted.
	c := toolCall("a", "fs", "x", `{}`)
	c.Direction = pipeline.ToClient
	c.Session = "s9"
	for range 5 {
		if v, _ := ic.Request(context.Background(), c); v.Deny {
			t.Fatalf("server-to-client request limited: %+v", v)
		}
	}
}

// TestRateLimitConcurrent hammers one bucket from many goroutines: exactly
// the burst gets through, whatever the interleaving.
func TestRateLimitConcurrent(t *testing.T) {
	clk := newClock()
	ic := mustNew(t, Config{Rate: []RateLimit{{ID: "r", Per: []string{PerCaller}, Rate: Rate{50, time.Hour}}}}, clk)
	var ok, denied atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			v, _ := ic.Request(context.Background(), toolCall("alice", "fs", "x", `{}`))
			if v.Deny {
				denied.Add(1)
			} else {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 || denied.Load() != 150 {
		t.Errorf("admitted %d, denied %d; want 50 and 150", ok.Load(), denied.Load())
	}
}

func TestLimiterSweep(t *testing.T) {
	l := newLimiter(Rate{10, time.Second}, 0)
	now := time.Unix(0, 0)
	for i := range 5000 {
		l.take(string(rune(i)), now)
	}
	// Much later every bucket has refilled; new keys trigger sweeps.
	later := now.Add(time.Hour)
	const fresh = 40000 // enough for every shard to sweep at least once
	for i := range fresh {
		l.take(fmt.Sprint("new", i), later)
	}
	if n := l.size(); n >= fresh+1000 {
		t.Errorf("limiter holds %d buckets; the 5000 idle ones should have been swept", n)
	}
}

func TestSizeLimits(t *testing.T) {
	ic := mustNew(t, Config{
		MaxArgumentBytes: 100, MaxResultBytes: 200,
		Tools: []ToolLimits{
			{Match: "fs/write_file", MaxArgumentBytes: confval.ByteSize(1000)},
			{Match: "search/*", MaxResultBytes: confval.ByteSize(50), Timeout: confval.Duration(3 * time.Second)},
		},
	}, newClock())
	ctx := context.Background()
	big := `{"text":"` + strings.Repeat("x", 150) + `"}`

	v, _ := ic.Request(ctx, toolCall("a", "fs", "echo", big))
	if !v.Deny || v.Rule != RuleArgumentSize || !strings.Contains(v.Reason, "are 161 bytes, more than the 100 allowed for fs/echo by policy.limits.max_argument_bytes") {
		t.Errorf("oversized arguments = %+v", v)
	}
	if v, _ := ic.Request(ctx, toolCall("a", "fs", "write_file", big)); v.Deny {
		t.Errorf("per-tool override ignored: %+v", v)
	}
	if v, _ := ic.Request(ctx, toolCall("a", "fs", "echo", `{"text":"hi"}`)); v.Deny {
		t.Errorf("small arguments denied: %+v", v)
	}
	prompt := &pipeline.Call{Direction: pipeline.ToServer, Method: "prompts/get", Server: "fs", Name: "p", Params: json.RawMessage(`{"name":"fs__p","arguments":` + big + `}`)}
	if v, _ := ic.Request(ctx, prompt); !v.Deny {
		t.Errorf("oversized prompt arguments allowed")
	}

	c := toolCall("a", "fs", "echo", `{}`)
	res := json.RawMessage(`{"content":[{"type":"text","text":"` + strings.Repeat("y", 300) + `"}]}`)
	_, v, _ = ic.ResultGuard().Response(ctx, c, res)
	if !v.Deny || v.Rule != RuleResultSize || !strings.Contains(v.Reason, "more than the 200 allowed for fs/echo by policy.limits.max_result_bytes") {
		t.Errorf("oversized result = %+v", v)
	}
	s := toolCall("a", "search", "web", `{}`)
	if _, v, _ := ic.ResultGuard().Response(ctx, s, json.RawMessage(`{"content":[{"type":"text","text":"`+strings.Repeat("y", 60)+`"}]}`)); !v.Deny || !strings.Contains(v.Reason, "policy.limits.tools[1].max_result_bytes") {
		t.Errorf("per-tool result limit = %+v", v)
	}
	if out, v, _ := ic.ResultGuard().Response(ctx, c, json.RawMessage(`{"content":[]}`)); v.Deny || string(out) != `{"content":[]}` {
		t.Errorf("small result = %s %+v", out, v)
	}
	list := &pipeline.Call{Direction: pipeline.ToServer, Method: "tools/list"}
	if _, v, _ := ic.ResultGuard().Response(ctx, list, res); v.Deny {
		t.Errorf("lists are not results: %+v", v)
	}

	// Timeouts.
	ic.Request(ctx, s)
	if s.Timeout != 3*time.Second {
		t.Errorf("search timeout = %v, want 3s", s.Timeout)
	}
	e := toolCall("a", "fs", "echo", `{}`)
	ic.Request(ctx, e)
	if e.Timeout != 0 {
		t.Errorf("timeout set for a tool without one: %v", e.Timeout)
	}
}

func TestExplain(t *testing.T) {
	ic := mustNew(t, Config{MaxArgumentBytes: 100, Rate: []RateLimit{{ID: "r", Per: []string{PerCaller}, Rate: Rate{5, time.Minute}, Burst: 10}}, Tools: []ToolLimits{{Match: "fs/*", Timeout: confval.Duration(time.Second)}}}, newClock())
	got := strings.Join(ic.Explain("fs", "read"), "; ")
	for _, want := range []string{"arguments at most 100 bytes (policy.limits.max_argument_bytes)", "call timeout 1s", "rate limit r: 5 calls per minute per caller (bursts of 10)"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain = %q, want %q", got, want)
		}
	}
}

func FuzzRate(f *testing.F) {
	for _, s := range []string{"10/s", "1/1ms", "1000000/h", "0/s", "1/", "/s", "9999999999/s", "1/1ns", "1/-1s", "1/s/s", "\x00/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r Rate
		if r.UnmarshalText([]byte(s)) != nil {
			return
		}
		if r.N < 1 || r.Period <= 0 || r.PerSecond() <= 0 {
			t.Fatalf("UnmarshalText(%q) = %+v", s, r)
		}
		var back Rate
		if err := back.UnmarshalText([]byte(r.String())); err != nil || back != r {
			t.Fatalf("%q does not round-trip: %v -> %q -> %v (%v)", s, r, r.String(), back, err)
		}
	})
}

func FuzzMatch(f *testing.F) {
	f.Add("gh/*", "gh/create")
	f.Add("*/*/*", "a/b/c/d")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if checkPattern(pattern) != nil || len(subject) > 256 {
			return
		}
		if got := match(pattern, subject); pattern == subject && !got {
			t.Fatalf("match(%q, itself) = false", pattern)
		}
		if match("*", subject) != true {
			t.Fatal("* did not match")
		}
	})
}
