package egress

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		in      string
		want    string // rendered rule, "" when an error is expected
		wantErr string
	}{
		{in: "api.github.com:443", want: "host=api.github.com ports=443"},
		{in: "API.GitHub.com.", want: "host=api.github.com ports=443,80"},
		{in: "*.npmjs.org", want: "wild=npmjs.org ports=443,80"},
		{in: "*", want: "host=* ports=443,80"},
		{in: "*:*", want: "host=* ports=any"},
		{in: "example.com:8000-8100,9000", want: "host=example.com ports=8000-8100,9000"},
		{in: "10.0.0.5:5432", want: "ip=10.0.0.5 ports=5432"},
		{in: "[2001:db8::1]:443", want: "ip=2001:db8::1 ports=443"},
		{in: "[::1]", want: "ip=::1 ports=443,80"},
		{in: "", wantErr: "empty"},
		{in: "example.com:", wantErr: "empty port"},
		{in: "example.com:0", wantErr: "not a number"},
		{in: "example.com:65536", wantErr: "not a number"},
		{in: "example.com:+80", wantErr: "not a number"},
		{in: "example.com:90-80", wantErr: "reversed"},
		{in: "ex*ample.com", wantErr: "wildcard"},
		{in: "*.*.example.com", wantErr: "wildcard"},
		{in: "2001:db8::1", wantErr: "brackets"},
		{in: "[2001:db8::1", wantErr: "unclosed"},
		{in: "[10.0.0.1]:80", wantErr: "not an IPv6"},
		{in: "[fe80::1%eth0]:80", wantErr: "not an IPv6"},
		{in: "2130706433:80", wantErr: "unusual spelling"},
		{in: "0x7f.1", wantErr: "unusual spelling"},
		{in: "exa mple.com", wantErr: "invalid character"},
		{in: "bücher.de", wantErr: "punycode"},
		{in: "-bad.com", wantErr: "starts or ends"},
		{in: "a..b", wantErr: "empty or over-long label"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRule(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRule(%q) error = %v", tt.in, err)
			}
			if got := render(r); got != tt.want {
				t.Errorf("ParseRule(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func render(r Rule) string {
	var b strings.Builder
	switch {
	case r.IP.IsValid():
		b.WriteString("ip=" + r.IP.String())
	case r.Wildcard:
		b.WriteString("wild=" + r.Host)
	default:
		b.WriteString("host=" + r.Host)
	}
	b.WriteString(" ports=")
	if r.Ports == nil {
		b.WriteString("any")
	}
	for i, p := range r.Ports {
		if i > 0 {
			b.WriteString(",")
		}
		if p.Lo == p.Hi {
			b.WriteString(itoa(p.Lo))
		} else {
			b.WriteString(itoa(p.Lo) + "-" + itoa(p.Hi))
		}
	}
	return b.String()
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func TestAllowlistMatch(t *testing.T) {
	a, err := ParseAllowlist([]string{"api.github.com:443", "*.npmjs.org", "10.0.0.5:5432", "[2001:db8::1]:443", "ports.test:8000-8100"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		port uint16
		want bool
	}{
		{"api.github.com", 443, true},
		{"API.GITHUB.COM.", 443, true},
		{"api.github.com", 80, false},
		{"github.com", 443, false},
		{"evil-api.github.com", 443, false},
		{"api.github.com.evil.com", 443, false},
		{"registry.npmjs.org", 443, true},
		{"a.b.npmjs.org", 80, true},
		{"npmjs.org", 443, false},
		{"evilnpmjs.org", 443, false},
		{"10.0.0.5", 5432, true},
		{"::ffff:10.0.0.5", 5432, true},
		{"012.0.0.5", 5432, true}, // octal spelling of 10.0.0.5
		{"10.0.0.6", 5432, false},
		{"2001:db8::1", 443, true},
		{"ports.test", 8050, true},
		{"ports.test", 8101, false},
		{"", 443, false},
		{"with space.com", 443, false},
	}
	for _, tt := range tests {
		_, got := a.Match(tt.host, tt.port)
		if got != tt.want {
			t.Errorf("Match(%q, %d) = %v, want %v", tt.host, tt.port, got, tt.want)
		}
	}
	var none *Allowlist
	if _, ok := none.Match("api.github.com", 443); ok {
		t.Errorf("nil Allowlist.Match = true, want false")
	}
}

func TestParseAllowlistInternal(t *testing.T) {
	a, err := ParseAllowlist([]string{"10.1.1.1:80"}, []string{"192.168.0.0/16", "127.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ip   string
		want bool
	}{{"10.1.1.1", false}, {"10.1.1.2", false}, {"192.168.7.7", true}, {"127.0.0.2", true}, {"127.0.0.1", false}, {"::ffff:192.168.1.1", true}} {
		if got := a.internalAllowed(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("internalAllowed(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if _, err := ParseAllowlist(nil, []string{"not-a-cidr"}); err == nil {
		t.Errorf("ParseAllowlist(internal=not-a-cidr) error = nil, want an error")
	}
}

// FuzzAllowlist checks that parsing never panics and that matching is
// consistent: a parsed name rule matches its own host, and no name rule
// matches an address literal.
func FuzzAllowlist(f *testing.F) {
	for _, s := range []string{"api.github.com:443", "*.npmjs.org", "*:*", "[::1]:80", "10.0.0.1", "a.b:1-2,3", "x:\x00", "*.", "[]:", "0x7f.1", "ＡＰＩ.com"} {
		f.Add(s, "api.github.com", uint16(443))
	}
	f.Add("*.example.com", "127.0.0.1", uint16(443))
	f.Fuzz(func(t *testing.T, entry, host string, port uint16) {
		r, err := ParseRule(entry)
		a, aerr := ParseAllowlist([]string{entry}, nil)
		if (err == nil) != (aerr == nil) {
			t.Fatalf("ParseRule(%q) err=%v but ParseAllowlist err=%v", entry, err, aerr)
		}
		if err != nil {
			return
		}
		if r.Host != "" && r.Host != "*" && portAllowed(r.Ports, port) && port != 0 {
			name := r.Host
			if r.Wildcard {
				name = "sub." + name
			}
			if _, ok := a.Match(name, port); !ok {
				t.Errorf("rule %q does not match its own host %q:%d", entry, name, port)
			}
		}
		if got, ok := a.Match(host, port); ok && got.IP.IsValid() == false {
			if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
				t.Errorf("name rule %q matched address literal %q", entry, host)
			}
		}
	})
}
