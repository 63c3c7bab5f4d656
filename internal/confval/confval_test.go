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
