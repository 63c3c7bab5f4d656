package argcheck

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"mcpwarden/internal/classify"
	"mcpwarden/internal/config"
	"mcpwarden/internal/netclass"
)

// Resolver resolves host names; *net.Resolver implements it. Tests inject
// a map.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// resolveTimeout bounds the name resolution of one URL argument.
const resolveTimeout = 3 * time.Second

// urlRule is a compiled url constraint.
type urlRule struct {
	schemes []string
	hosts   []string // exact, or ".example.com" for *.example.com
	allow   map[netclass.Class]bool
}

func newURLRule(r *config.URLRule) (*urlRule, error) {
	u := &urlRule{schemes: r.Schemes, allow: map[netclass.Class]bool{netclass.Public: true}}
	if len(u.schemes) == 0 {
		u.schemes = []string{"http", "https"}
	}
	for _, h := range r.Hosts {
		u.hosts = append(u.hosts, strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(h), "."), "*"))
	}
	for _, c := range r.AllowAddresses {
		cl, err := netclass.ParseClass(c)
		if err != nil {
			return nil, err
		}
		u.allow[cl] = true
	}
	return u, nil
}

// urlRisks are classifier reasons that make a URL ambiguous: parsers
// disagree about its host, so no check on it can be trusted.
var urlRisks = []string{"url.control_char", "url.backslash", "url.userinfo_confusion", "url.encoded_host", "url.unparsable", "url.credentials"}

// check returns why value fails the rule, or "". The host is resolved
// and every address checked; the check cannot stop a server from
// following a redirect elsewhere, which the sandbox's egress proxy
// checks again.
func (u *urlRule) check(ctx context.Context, res Resolver, value string) string {
	r := classify.URL(value)
	for _, code := range urlRisks {
		for _, reason := range r.Reasons {
			if reason.Code == code {
				return reason.Detail
			}
		}
	}
	if r.Scheme == "" {
		return "not an absolute URL with a scheme"
	}
	if !slices.Contains(u.schemes, r.Scheme) {
		return fmt.Sprintf("scheme %s is not allowed (allowed: %s)", r.Scheme, strings.Join(u.schemes, ", "))
	}
	if r.Host == "" {
		return "the URL has no host"
	}
	if len(u.hosts) > 0 && !u.hostAllowed(r.Host) {
		return fmt.Sprintf("host %s is not allowed", r.Host)
	}
	if r.Class != netclass.Unknown {
		// An address literal in any spelling, or a name whose address is
		// known (localhost, metadata names, rebinding services).
		if !u.allow[r.Class] {
			return u.addrReason(r.Host, r.Class, "")
		}
		return ""
	}
	if res == nil {
		return "the host cannot be resolved (no resolver)"
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := res.LookupNetIP(ctx, "ip", r.Host)
	if err != nil || len(addrs) == 0 {
		return fmt.Sprintf("host %s does not resolve, so its addresses cannot be checked", r.Host)
	}
	for _, a := range addrs {
		if c := netclass.Classify(a); !u.allow[c] {
			return u.addrReason(r.Host, c, a.String())
		}
	}
	return ""
}

func (u *urlRule) addrReason(host string, c netclass.Class, addr string) string {
	what := host
	if a, err := netclass.ParseIP(host); err == nil && a.String() != strings.Trim(host, "[]") {
		what = fmt.Sprintf("%s (that is %s)", host, a)
	}
	if addr != "" {
		what = fmt.Sprintf("%s resolves to %s, which", host, addr)
		return fmt.Sprintf("%s is a %s address, and only %s addresses are allowed", what, c, u.allowed())
	}
	return fmt.Sprintf("host %s is a %s address, and only %s addresses are allowed", what, c, u.allowed())
}

func (u *urlRule) allowed() string {
	var names []string
	for c := range u.allow {
		names = append(names, c.String())
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (u *urlRule) hostAllowed(h string) bool {
	for _, p := range u.hosts {
		if strings.HasPrefix(p, ".") {
			if strings.HasSuffix(h, p) && len(h) > len(p) {
				return true
			}
		} else if h == p {
			return true
		}
	}
	return false
}
