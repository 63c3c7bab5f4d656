// Package netclass classifies network addresses for SSRF and egress
// decisions: is this address loopback, private, link-local, a cloud
// metadata endpoint, or public?
//
// Attackers rarely write 127.0.0.1. They write 2130706433, 0x7f.1,
// 017700000001, 127.1, [::ffff:127.0.0.1] or [::1%25eth0], and every URL
// library, resolver and kernel accepts a different subset of those. This
// package parses every spelling the BSD inet_aton(3) family and RFC 4291
// accept, unwraps IPv4 addresses embedded in IPv6 (mapped, compatible,
// NAT64, 6to4), and classifies the address the kernel would actually
// connect to.
//
// Classification is only half of an SSRF defence: a hostname must be
// resolved and every resolved address checked, and the connection must go
// to the address that was checked (see the gateway's URL control and the
// egress proxy).
package netclass

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Class is the kind of network an address belongs to.
type Class uint8

const (
	Unknown     Class = iota // a hostname that needs resolving
	Public                   // globally routable unicast
	Loopback                 // 127.0.0.0/8, ::1, localhost
	Private                  // RFC 1918, RFC 4193 unique local, CGNAT 100.64/10
	LinkLocal                // 169.254.0.0/16, fe80::/10
	Metadata                 // cloud instance metadata endpoints
	Multicast                // 224.0.0.0/4, ff00::/8
	Unspecified              // 0.0.0.0/8, ::
	Broadcast                // 255.255.255.255
	Reserved                 // documentation, benchmarking, 240/4 and other special-purpose ranges
)

var classNames = [...]string{"unknown", "public", "loopback", "private", "link_local", "metadata", "multicast", "unspecified", "broadcast", "reserved"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ParseClass parses a class name as written in policy files.
func ParseClass(s string) (Class, error) {
	for i, n := range classNames {
		if s == n {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("unknown address class %q (want one of %s)", s, strings.Join(classNames[1:], ", "))
}

// Internal reports whether the class must be denied by default for
// traffic a tool or server initiates: everything except public addresses.
// Unknown is internal too, so that an unresolved name fails closed.
func (c Class) Internal() bool { return c != Public }

// metadataAddrs are instance-metadata endpoints that sit outside the
// link-local range or deserve naming on their own.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, DigitalOcean
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.169.123"), // AWS time sync
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
}

type prefixClass struct {
	p netip.Prefix
	c Class
}

// prefixes is checked in order; the first match wins. Sources: the IANA
// IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890).
var prefixes = []prefixClass{
	{netip.MustParsePrefix("0.0.0.0/8"), Unspecified},
	{netip.MustParsePrefix("10.0.0.0/8"), Private},
	{netip.MustParsePrefix("100.64.0.0/10"), Private}, // CGNAT, reachable inside carriers and clouds
	{netip.MustParsePrefix("127.0.0.0/8"), Loopback},
	{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), Private},
	{netip.MustParsePrefix("192.0.0.0/24"), Reserved},
	{netip.MustParsePrefix("192.0.2.0/24"), Reserved},
	{netip.MustParsePrefix("192.88.99.0/24"), Reserved},
	{netip.MustParsePrefix("192.168.0.0/16"), Private},
	{netip.MustParsePrefix("198.18.0.0/15"), Reserved},
	{netip.MustParsePrefix("198.51.100.0/24"), Reserved},
	{netip.MustParsePrefix("203.0.113.0/24"), Reserved},
	{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
	{netip.MustParsePrefix("255.255.255.255/32"), Broadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), Reserved},
	{netip.MustParsePrefix("::/128"), Unspecified},
	{netip.MustParsePrefix("::1/128"), Loopback},
	{netip.MustParsePrefix("fc00::/7"), Private},
	{netip.MustParsePrefix("fe80::/10"), LinkLocal},
	{netip.MustParsePrefix("fec0::/10"), Private}, // deprecated site-local, still routed by some stacks
	{netip.MustParsePrefix("ff00::/8"), Multicast},
	{netip.MustParsePrefix("100::/64"), Reserved},
	{netip.MustParsePrefix("2001:db8::/32"), Reserved},
	{netip.MustParsePrefix("2001::/23"), Reserved},
}

// Classify returns the class of an address, looking through IPv4 addresses
// embedded in IPv6 (see [Embedded]).
func Classify(a netip.Addr) Class {
	if !a.IsValid() {
		return Unknown
	}
	a = a.WithZone("")
	if v4, ok := Embedded(a); ok {
		a = v4
	}
	for _, m := range metadataAddrs {
		if a == m {
			return Metadata
		}
	}
	for _, pc := range prefixes {
		if pc.p.Contains(a) {
			return pc.c
		}
	}
	return Public
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	nat64l  = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	compat  = netip.MustParsePrefix("::/96")
	mapped  = netip.MustParsePrefix("::ffff:0:0/96")
	siitMap = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT, RFC 6052 "IPv4-translated"
)

// Embedded returns the IPv4 address an IPv6 address carries, if any:
// IPv4-mapped (::ffff:a.b.c.d), IPv4-translated, IPv4-compatible
// (::a.b.c.d, deprecated but still honoured by some stacks), NAT64
// (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::). An IPv4 address is returned
// as is.
func Embedded(a netip.Addr) (netip.Addr, bool) {
	if a.Is4() {
		return a, true
	}
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	last4 := func() netip.Addr { return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}) }
	switch {
	case mapped.Contains(a), siitMap.Contains(a), nat64.Contains(a), nat64l.Contains(a):
		return last4(), true
	case compat.Contains(a):
		// ::/128 and ::1 are IPv6 themselves, not compatible addresses.
		if a == netip.IPv6Unspecified() || a == netip.IPv6Loopback() {
			return netip.Addr{}, false
		}
		return last4(), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// ErrNotIP is returned by [ParseIP] for a host that is a name, not an
// address literal in any spelling.
var ErrNotIP = errors.New("not an IP address literal")

// ParseIP parses an IP address written in any spelling a URL host or a
// resolver accepts:
//
//   - IPv4 dotted quad, and the inet_aton forms: 1, 2 or 3 parts
//     (127.1 = 127.0.0.1), each part decimal, octal (leading 0) or hex
//     (0x); a single 32-bit number (2130706433, 0x7f000001, 017700000001);
//   - IPv6 with or without brackets, with embedded IPv4, and with a zone
//     ID written as %zone or URL-encoded %25zone;
//   - one trailing dot, which resolvers ignore.
//
// It returns [ErrNotIP] (wrapped) for hostnames.
func ParseIP(host string) (netip.Addr, error) {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.Contains(h, ":") {
		if i := strings.Index(h, "%25"); i >= 0 {
			h = h[:i] + "%" + h[i+3:]
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("parsing %q as IPv6: %w", host, err)
		}
		return a, nil
	}
	h = strings.TrimSuffix(h, ".")
	if a, ok := parseIPv4Loose(h); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("%q: %w", host, ErrNotIP)
}

// parseIPv4Loose implements inet_aton(3).
func parseIPv4Loose(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseLooseUint(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// All parts but the last are single bytes; the last fills the
	// remaining bytes.
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseLooseUint(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" alone is 0 to inet_aton
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	for _, c := range p {
		if c == '+' || c == '-' || c == '_' {
			return 0, false // strconv accepts some of these; inet_aton does not
		}
	}
	v, err := strconv.ParseUint(p, base, 64)
	if err != nil || v > 0xffffffff {
		return 0, false
	}
	return v, true
}

// ClassifyHost classifies a URL host without resolving it: an address
// literal in any spelling gets its class, well-known internal names get
// theirs (localhost and *.localhost are loopback by RFC 6761; the cloud
// metadata names are metadata), and any other name is Unknown: the caller
// must resolve it and classify every address.
func ClassifyHost(host string) Class {
	if a, err := ParseIP(host); err == nil {
		return Classify(a)
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		return Loopback
	case name == "metadata.google.internal" || name == "metadata" || name == "instance-data" ||
		strings.HasSuffix(name, ".metadata.google.internal"):
		return Metadata
	}
	return Unknown
}
