package netclass

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseIP(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means ErrNotIP or another error
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"0x7f.0x0.0x0.0x1", "127.0.0.1"},
		{"169.254.43518", "169.254.169.254"},
		{"0xa9fea9fe", "169.254.169.254"},
		{"10.0.0.1.", "10.0.0.1"},
		{"0", "0.0.0.0"},
		{"[::1]", "::1"},
		{"::1", "::1"},
		{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
		{"[::ffff:7f00:1]", "::ffff:127.0.0.1"},
		{"[fe80::1%25eth0]", "fe80::1%eth0"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"127.0.0.256", ""},
		{"127.1.65536", ""},
		{"4294967296", ""},
		{"08.0.0.1", ""},
		{"example.com", ""},
		{"-1", ""},
		{"+1", ""},
		{"", ""},
		{"1..1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIP(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseIP(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIP(%q) error: %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseIP(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseIPNameIsErrNotIP(t *testing.T) {
	if _, err := ParseIP("internal.example"); !errors.Is(err, ErrNotIP) {
		t.Errorf("ParseIP(name) error = %v, want ErrNotIP", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		in   string
		want Class
	}{
		{"127.0.0.1", Loopback},
		{"127.255.255.254", Loopback},
		{"::1", Loopback},
		{"::ffff:127.0.0.1", Loopback},
		{"::127.0.0.1", Loopback},
		{"64:ff9b::7f00:1", Loopback},
		{"2002:7f00:1::", Loopback},
		{"10.1.2.3", Private},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"172.32.0.1", Public},
		{"192.168.1.1", Private},
		{"100.64.0.1", Private},
		{"fd12:3456::1", Private},
		{"::ffff:10.0.0.1", Private},
		{"169.254.1.1", LinkLocal},
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"169.254.169.254", Metadata},
		{"::ffff:169.254.169.254", Metadata},
		{"fd00:ec2::254", Metadata},
		{"100.100.100.200", Metadata},
		{"224.0.0.1", Multicast},
		{"ff02::1", Multicast},
		{"0.0.0.0", Unspecified},
		{"::", Unspecified},
		{"255.255.255.255", Broadcast},
		{"192.0.2.1", Reserved},
		{"240.0.0.1", Reserved},
		{"8.8.8.8", Public},
		{"2606:4700::1111", Public},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a := netip.MustParseAddr(tt.in)
			if got := Classify(a); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", a, got, tt.want)
			}
		})
	}
}

func TestClassifyHost(t *testing.T) {
	tests := []struct {
		in   string
		want Class
	}{
		{"2130706433", Loopback},
		{"0x7f.1", Loopback},
		{"017700000001", Loopback},
		{"[::ffff:127.0.0.1]", Loopback},
		{"localhost", Loopback},
		{"LOCALHOST.", Loopback},
		{"api.localhost", Loopback},
		{"metadata.google.internal", Metadata},
		{"0xa9fea9fe", Metadata},
		{"example.com", Unknown},
		{"8.8.8.8", Public},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ClassifyHost(tt.in); got != tt.want {
				t.Errorf("ClassifyHost(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestInternal(t *testing.T) {
	for c := Unknown; c <= Reserved; c++ {
		if got, want := c.Internal(), c != Public; got != want {
			t.Errorf("%v.Internal() = %v, want %v", c, got, want)
		}
		back, err := ParseClass(c.String())
		if err != nil || back != c {
			t.Errorf("ParseClass(%q) = %v, %v; want %v", c.String(), back, err, c)
		}
	}
}

// FuzzParseIP checks that whatever ParseIP accepts is a valid address that
// classifies, and that accepted IPv4 spellings agree with a re-parse of
// their canonical form.
func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0x7f.1", "017700000001", "[::ffff:127.0.0.1]",
		"[fe80::1%25eth0]", "1.2.3.4.", "0x", "00", "1.2.3.0x100", "\x00", "::ffff:1.2.3.4%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseIP(s)
		if err != nil {
			return
		}
		if !a.IsValid() {
			t.Fatalf("ParseIP(%q) returned an invalid address without error", s)
		}
		_ = Classify(a)
		if a.Is4() {
			b, err := ParseIP(a.String())
			if err != nil || b != a {
				t.Fatalf("ParseIP(%q) = %v, but its canonical form re-parses as %v, %v", s, a, b, err)
			}
		}
	})
}

func BenchmarkClassifyHost(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ClassifyHost("0x7f.1")
		ClassifyHost("[::ffff:169.254.169.254]")
		ClassifyHost("example.com")
	}
}
