package confval

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"0s", 0, true},
		{"-1s", 0, false},
		{"30", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && d.D() != tt.want) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, ok %v", tt.in, d.D(), err, tt.want, tt.ok)
		}
	}
	if b, _ := Duration(90 * time.Second).MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestErrorsPrefix(t *testing.T) {
	var es Errors
	es.Add("", "whole section")
	es.Add("[2].when", "bad rule")
	es.Add("jwt.issuer", "bad issuer")
	got := es.Prefix("policy.auth")
	want := []string{"policy.auth: whole section", "policy.auth[2].when: bad rule", "policy.auth.jwt.issuer: bad issuer"}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("Prefix()[%d] = %q, want %q", i, e.Error(), want[i])
		}
	}
	if es[0].Path != "" {
		t.Error("Prefix modified its receiver")
	}
	if (Errors{}).Err() != nil || es.Err() == nil {
		t.Error("Err() is wrong about emptiness")
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
		str  string
	}{
		{"65536", 65536, true, "64KiB"},
		{"64KiB", 64 << 10, true, "64KiB"},
		{"4MiB", 4 << 20, true, "4MiB"},
		{"1 GiB", 1 << 30, true, "1GiB"},
		{"2048MiB", 2 << 30, true, "2GiB"},
		{"1MB", 1e6, true, "1000000 bytes"},
		{"100", 100, true, "100 bytes"},
		{"0", 0, true, "0 bytes"},
		{"-1", 0, false, ""},
		{"1.5MiB", 0, false, ""},
		{"lots", 0, false, ""},
		{"99999999999GiB", 0, false, ""},
	}
	for _, tt := range tests {
		var b ByteSize
		err := b.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && (b.Int() != tt.want || b.String() != tt.str)) {
			t.Errorf("UnmarshalText(%q) = %d (%s), %v; want %d (%s), ok %v", tt.in, b, b, err, tt.want, tt.str, tt.ok)
		}
	}
}
