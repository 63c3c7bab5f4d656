package limits

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"mcpwarden/internal/confval"
)

// Config is the policy.limits section of the gateway config.
//
//	limits:
//	  max_argument_bytes: 256KiB
//	  max_result_bytes: 4MiB
//	  rate:
//	    - id: per-caller
//	      per: [caller]
//	      rate: 20/s
//	      burst: 40
//	    - id: expensive-search
//	      per: [caller, tool]
//	      tools: ["search/*"]
//	      rate: 30/m
//	  tools:
//	    - match: search/deep_search
//	      timeout: 2m
//	      max_result_bytes: 16MiB
type Config struct {
	// MaxArgumentBytes bounds the JSON arguments of tools/call and
	// prompts/get; 0 means no limit below gateway.max_message_bytes.
	MaxArgumentBytes confval.ByteSize `yaml:"max_argument_bytes"`
	// MaxResultBytes bounds the JSON result of tools/call, prompts/get
	// and resources/read; 0 means no limit below gateway.max_message_bytes.
	MaxResultBytes confval.ByteSize `yaml:"max_result_bytes"`
	// Rate lists token-bucket rate limits. A request must be admitted by
	// every limit that applies to it.
	Rate []RateLimit `yaml:"rate"`
	// Tools override the size limits and set call timeouts per tool. For
	// each setting, the first entry that matches and sets it wins.
	Tools []ToolLimits `yaml:"tools"`
}

// RateLimit is one token bucket per key.
type RateLimit struct {
	// ID names the limit in denials: "limits.rate.ID".
	ID string `yaml:"id"`
	// Per lists what a bucket is kept for: any of caller, server, tool
	// and session. Empty means one bucket shared by every request.
	Per []string `yaml:"per"`
	// Tools restricts the limit to matching "server/tool" patterns (*
	// matches anything); empty means every tool. Prompts and resources
	// match as "server/name" and "server/uri".
	Tools []string `yaml:"tools"`
	// Methods lists the MCP methods the limit counts; empty means
	// tools/call. "*" counts every request, lists and pings included.
	Methods []string `yaml:"methods"`
	// Rate is the sustained rate, "N/s", "N/m" or "N/h".
	Rate Rate `yaml:"rate"`
	// Burst is how many requests may arrive at once; 0 means N.
	Burst int `yaml:"burst"`
}

// ToolLimits are the limits of the tools matching a pattern.
type ToolLimits struct {
	// Match is a "server/tool" pattern; * matches anything.
	Match            string           `yaml:"match"`
	MaxArgumentBytes confval.ByteSize `yaml:"max_argument_bytes"`
	MaxResultBytes   confval.ByteSize `yaml:"max_result_bytes"`
	// Timeout replaces the server's call_timeout for these tools.
	Timeout confval.Duration `yaml:"timeout"`
}

// Rate is N requests per period.
type Rate struct {
	N      int
	Period time.Duration
}

// PerSecond returns the rate in requests per second.
func (r Rate) PerSecond() float64 { return float64(r.N) / r.Period.Seconds() }

// UnmarshalText implements encoding.TextUnmarshaler: "10/s", "100/m",
// "1000/h", or "5/10s".
func (r *Rate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 || count > 1_000_000 {
		return fmt.Errorf("expected a rate such as 10/s, 100/m or 1000/h, got %q", b)
	}
	per = strings.TrimSpace(per)
	var d time.Duration
	switch per {
	case "s", "sec", "second":
		d = time.Second
	case "m", "min", "minute":
		d = time.Minute
	case "h", "hour":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || d < time.Millisecond || d > 24*time.Hour {
			return fmt.Errorf("expected a rate such as 10/s, 100/m or 1000/h, got %q", b)
		}
	}
	*r = Rate{N: count, Period: d}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r Rate) String() string {
	switch r.Period {
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Period)
}

// Keys a rate limit can be kept per.
const (
	PerCaller  = "caller"
	PerServer  = "server"
	PerTool    = "tool"
	PerSession = "session"
)

var (
	patternRE = regexp.MustCompile(`^[^/\s]+/\S+$`)
)

// Validate reports every problem in the section.
func (c *Config) Validate() confval.Errors {
	var es confval.Errors
	ids := confval.NewIDs("rate", "rate limit needs an id: denials name it")
	for i, r := range c.Rate {
		p := fmt.Sprintf("rate[%d]", i)
		ids.Check(&es, i, r.ID)
		if r.Rate.N == 0 {
			es.Add(p+".rate", "required: a rate such as 10/s, 100/m or 1000/h")
		}
		if r.Burst < 0 || r.Burst > 1_000_000 {
			es.Add(p+".burst", "expected 0 (the rate's N) to 1000000, got %d", r.Burst)
		}
		per := make(map[string]bool)
		for j, k := range r.Per {
			if !slices.Contains([]string{PerCaller, PerServer, PerTool, PerSession}, k) {
				es.Add(fmt.Sprintf("%s.per[%d]", p, j), "expected caller, server, tool or session, got %q", k)
			} else if per[k] {
				es.Add(fmt.Sprintf("%s.per[%d]", p, j), "%q is listed twice", k)
			}
			per[k] = true
		}
		for j, t := range r.Tools {
			if err := checkPattern(t); err != nil {
				es.Add(fmt.Sprintf("%s.tools[%d]", p, j), "%v", err)
			}
		}
		for j, m := range r.Methods {
			if m != "*" && !strings.Contains(m, "/") && m != "ping" && m != "initialize" {
				es.Add(fmt.Sprintf("%s.methods[%d]", p, j), "expected an MCP method such as tools/call, or *, got %q", m)
			}
		}
	}
	for i, t := range c.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Match == "" {
			es.Add(p+".match", "required: a \"server/tool\" pattern such as github/* or search/deep_search")
		} else if err := checkPattern(t.Match); err != nil {
			es.Add(p+".match", "%v", err)
		}
		if t.Timeout != 0 && t.Timeout.D() < 100*time.Millisecond {
			es.Add(p+".timeout", "at least 100ms, got %s", t.Timeout.D())
		}
		if t.MaxArgumentBytes == 0 && t.MaxResultBytes == 0 && t.Timeout == 0 {
			es.Add(p, "sets nothing: give max_argument_bytes, max_result_bytes or timeout")
		}
	}
	return es
}

// maxStars bounds the wildcards in a pattern, which keeps matching cheap
// on long names.
const maxStars = 3

func checkPattern(p string) error {
	if strings.Count(p, "*") > maxStars {
		return fmt.Errorf("at most %d * in a pattern, got %q", maxStars, p)
	}
	if p == "*" || patternRE.MatchString(p) {
		return nil
	}
	return fmt.Errorf("expected a \"server/tool\" pattern such as github/create_issue, github/* or *, got %q", p)
}

// Enabled reports whether the section limits anything.
func (c *Config) Enabled() bool {
	return c.MaxArgumentBytes > 0 || c.MaxResultBytes > 0 || len(c.Rate) > 0 || len(c.Tools) > 0
}

// match reports whether subject ("server/name") matches pattern, where *
// matches any run of characters, slashes included.
func match(pattern, subject string) bool {
	for len(pattern) > 0 {
		if pattern[0] == '*' {
			pattern = strings.TrimLeft(pattern, "*")
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(subject); i++ {
				if match(pattern, subject[i:]) {
					return true
				}
			}
			return false
		}
		if subject == "" || subject[0] != pattern[0] {
			return false
		}
		pattern, subject = pattern[1:], subject[1:]
	}
	return subject == ""
}
