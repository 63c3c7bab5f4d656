package config

import (
	"mcpwarden/internal/authn"
	"strings"
	"testing"
	"time"
)

// TestPolicySections loads a file with every policy section of package
// authn, access and limits and checks what they decode to.
func TestPolicySections(t *testing.T) {
	c, err := Load("testdata/valid/policy.yaml")
	if err != nil {
		t.Fatalf("Load(policy.yaml) = %v", err)
	}
	a := c.Policy.Auth
	if len(a.APIKeys) != 2 || a.APIKeys[0].Name != "ci-bot" || a.APIKeys[0].Expires.Year() != 2027 || !a.APIKeys[1].Disabled {
		t.Errorf("api_keys = %+v", a.APIKeys)
	}
	if j := a.JWT; j == nil || j.Issuer != "https://login.example.com/" || j.ClockSkew.D() != 30*time.Second || j.SubjectClaim != "email" {
		t.Errorf("jwt = %+v", a.JWT)
	}
	ac := c.Policy.Access
	if ac.Default != "deny" || len(ac.Rules) != 3 || !strings.Contains(ac.Rules[1].When, "delete_") || ac.Rules[1].Decision != "approve" {
		t.Errorf("access = %+v", ac)
	}
	l := c.Policy.Limits
	if l.MaxArgumentBytes.Int() != 256<<10 || l.MaxResultBytes.Int() != 4<<20 || len(l.Rate) != 2 || l.Rate[1].Rate.N != 30 || l.Rate[1].Rate.Period != time.Minute {
		t.Errorf("limits = %+v", l)
	}
	if l.Tools[0].Timeout.D() != 2*time.Minute || l.Tools[0].MaxResultBytes.Int() != 16<<20 {
		t.Errorf("limits.tools = %+v", l.Tools)
	}
}

// TestExposure checks that only loopback listeners may go without
// authentication.
func TestExposure(t *testing.T) {
	tests := []struct {
		listen string
		auth   bool
		ok     bool
	}{
		{"127.0.0.1:8750", false, true},
		{"[::1]:8750", false, true},
		{"localhost:8750", false, true},
		{"0.0.0.0:8750", false, false},
		{"192.168.1.10:8750", false, false},
		{"[::]:8750", false, false},
		{"0.0.0.0:8750", true, true},
	}
	for _, tt := range tests {
		cfg := Default()
		if tt.auth {
			cfg.Policy.Auth.APIKeys = []authn.APIKey{{Name: "k", Hash: "sha256:" + strings.Repeat("0", 64)}}
		}
		if err := CheckExposure(tt.listen, &cfg.Policy.Auth); (err == nil) != tt.ok {
			t.Errorf("CheckExposure(%s, auth %v) = %v, want ok %v", tt.listen, tt.auth, err, tt.ok)
		}
	}
}

func TestPosition(t *testing.T) {
	data := []byte("version: 1\npolicy:\n  access:\n    default: deny\n    rules:\n      - id: a\n        when: 'true'\n        decision: allow\n      - id: b\n        when: 'false'\n        decision: deny\n")
	tests := []struct {
		path      string
		line, col int
		ok        bool
	}{
		{"policy.access.rules[1]", 9, 9, true},
		{"policy.access.rules[0].when", 7, 15, true},
		{"policy.access.default", 4, 14, true},
		{"policy.nothing", 0, 0, false},
	}
	for _, tt := range tests {
		line, col, ok := Position(data, tt.path)
		if line != tt.line || col != tt.col || ok != tt.ok {
			t.Errorf("Position(%s) = %d:%d %v, want %d:%d %v", tt.path, line, col, ok, tt.line, tt.col, tt.ok)
		}
	}
}
