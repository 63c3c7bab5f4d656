package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"mcpwarden/internal/netclass"
)

// DefaultPorts are the ports an allowlist entry without a port allows:
// HTTPS and plain HTTP.
var DefaultPorts = []PortRange{{443, 443}, {80, 80}}

// PortRange is an inclusive range of TCP ports.
type PortRange struct{ Lo, Hi uint16 }

func (r PortRange) contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

// Rule is one parsed allowlist entry.
type Rule struct {
	// Host is a lower-case hostname without trailing dot, "" for an IP
	// rule, or "*" for any hostname.
	Host string
	// Wildcard means Host is a suffix: "*.example.com" is stored as
	// Host "example.com" with Wildcard set, and matches every name below
	// example.com but not example.com itself.
	Wildcard bool
	// IP is set for an address-literal rule, which matches only requests
	// that name that address.
	IP netip.Addr
	// Ports lists the allowed ports; empty means any port.
	Ports []PortRange
	// Source is the entry as written, for audit lines.
	Source string
}

// Allowlist decides which destinations a sandboxed server may reach. The
// zero value allows nothing. An Allowlist is immutable and safe for
// concurrent use.
type Allowlist struct {
	rules []Rule
	// internal are the internal destinations (loopback, private,
	// link-local, metadata, the gateway's own addresses) that were
	// explicitly allowed for every rule.
	internal []netip.Prefix
}

// ParseAllowlist parses allowlist entries and the internal prefixes that
// are explicitly allowed.
//
// An entry is HOST or HOST:PORTS. HOST is a hostname (example.com), a
// wildcard (*.example.com: any name below example.com), "*" (any name,
// still subject to the internal-address checks), an IPv4 literal or a
// bracketed IPv6 literal. PORTS is a port (443), a range (8000-8100), a
// comma-separated list of either (80,443) or "*" (any port). Without
// PORTS the entry allows [DefaultPorts].
//
// An internal entry is a CIDR prefix (10.0.0.0/8) or an address; a
// connection whose resolved address falls inside is not refused for being
// internal. An IP-literal entry for an internal address allows that
// address on that entry's ports too: naming it is explicit.
func ParseAllowlist(entries, internal []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, e := range entries {
		r, err := ParseRule(e)
		if err != nil {
			return nil, err
		}
		a.rules = append(a.rules, r)
	}
	for _, s := range internal {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("egress internal %q: %w", s, err)
		}
		a.internal = append(a.internal, p)
	}
	return a, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR prefix such as 10.0.0.0/8: %w", err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Prefix{}, errors.New("want an address or a CIDR prefix such as 10.0.0.0/8")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseRule parses one allowlist entry (see [ParseAllowlist]).
func ParseRule(entry string) (Rule, error) {
	r := Rule{Source: entry}
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("egress allow entry %q: %s", entry, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(entry)
	if s == "" {
		return fail("empty")
	}
	host, ports := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return fail("unclosed [ in IPv6 literal")
		}
		host, ports = s[1:end], s[end+1:]
		if ports != "" {
			if ports[0] != ':' {
				return fail("unexpected %q after ]", ports)
			}
			ports = ports[1:]
			if ports == "" {
				return fail("empty port after ':'")
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return fail("%q is not an IPv6 address", host)
		}
		r.IP = a
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, ports = s[:i], s[i+1:]
			if ports == "" {
				return fail("empty port after ':'")
			}
		}
		if strings.Contains(host, ":") {
			return fail("write IPv6 literals in brackets, like [2001:db8::1]:443")
		}
		if a, err := netip.ParseAddr(host); err == nil {
			r.IP = a
		} else if err := setHostPattern(&r, host); err != nil {
			return fail("%v", err)
		}
	}
	var err error
	if r.Ports, err = parsePorts(ports); err != nil {
		return fail("%v", err)
	}
	return r, nil
}

func setHostPattern(r *Rule, host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "*" {
		r.Host = "*"
		return nil
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		r.Wildcard = true
		h = rest
	}
	if err := validHostname(h); err != nil {
		return err
	}
	if _, err := netclass.ParseIP(h); err == nil {
		// 2130706433 or 0x7f.1 would otherwise be taken as a name that
		// never matches; say what it is instead.
		return fmt.Errorf("%q is an unusual spelling of an IP address; write it as a dotted quad", h)
	}
	r.Host = h
	return nil
}

// validHostname accepts LDH names (letters, digits, hyphens, plus the
// underscore some services use) in dot-separated labels of 1-63 bytes.
// Non-ASCII names must be written in punycode (xn--).
func validHostname(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("hostname must be 1-253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("hostname %q has an empty or over-long label", h)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("hostname label %q starts or ends with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return fmt.Errorf("a wildcard is only allowed as the whole first label (*.example.com)")
				}
				return fmt.Errorf("hostname %q has invalid character %q (write internationalised names in punycode)", h, c)
			}
		}
	}
	return nil
}

func parsePorts(s string) ([]PortRange, error) {
	switch s {
	case "":
		return slices.Clone(DefaultPorts), nil
	case "*":
		return nil, nil
	}
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		l, err := parsePort(lo)
		if err != nil {
			return nil, err
		}
		h := l
		if isRange {
			if h, err = parsePort(hi); err != nil {
				return nil, err
			}
			if h < l {
				return nil, fmt.Errorf("port range %q is reversed", part)
			}
		}
		out = append(out, PortRange{l, h})
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '+' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// Rules returns the parsed rules, for reports.
func (a *Allowlist) Rules() []Rule {
	if a == nil {
		return nil
	}
	return slices.Clone(a.rules)
}

// Match reports the first rule that allows host on port, before any
// resolution. host may be a name or an address literal in any spelling;
// a literal only matches IP rules, so "*.example.com" never lets a client
// reach an address by writing it directly.
func (a *Allowlist) Match(host string, port uint16) (Rule, bool) {
	if a == nil {
		return Rule{}, false
	}
	ip, ipErr := netclass.ParseIP(host)
	name := ""
	if ipErr != nil {
		name = strings.ToLower(strings.TrimSuffix(host, "."))
		if validHostname(name) != nil {
			return Rule{}, false
		}
	}
	for _, r := range a.rules {
		if !portAllowed(r.Ports, port) {
			continue
		}
		switch {
		case r.IP.IsValid():
			if ipErr == nil && sameAddr(r.IP, ip) {
				return r, true
			}
		case name == "":
			// An address literal never matches a name rule.
		case r.Host == "*":
			return r, true
		case r.Wildcard:
			if strings.HasSuffix(name, "."+r.Host) {
				return r, true
			}
		case name == r.Host:
			return r, true
		}
	}
	return Rule{}, false
}

func portAllowed(ports []PortRange, p uint16) bool {
	if ports == nil {
		return true
	}
	for _, r := range ports {
		if r.contains(p) {
			return true
		}
	}
	return false
}

// sameAddr compares addresses ignoring zones and IPv4-mapped wrapping, so
// a rule for 10.0.0.5 matches [::ffff:10.0.0.5].
func sameAddr(a, b netip.Addr) bool {
	return a.WithZone("").Unmap() == b.WithZone("").Unmap()
}

// internalAllowed reports whether an internal address was explicitly
// allowed.
func (a *Allowlist) internalAllowed(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	ip = ip.WithZone("").Unmap()
	for _, p := range a.internal {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
