package audit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBuiltinRedactor(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"aws", `{"key":"AKIAIOSFODNN7EXAMPLE"}`, `{"key":"[REDACTED:aws_access_key]"}`},
		{"github", "token ghp_" + strings.Repeat("x", 36), "token [REDACTED:github_token]"},
		{"github pat", "github_pat_" + strings.Repeat("A", 40), "[REDACTED:github_token]"},
		{"slack", "xoxb-1234567890-abcdefghij", "[REDACTED:slack_token]"},
		{"anthropic", "sk-ant-api03-" + strings.Repeat("a", 30), "[REDACTED:anthropic_key]"},
		{"openai", "sk-proj-" + strings.Repeat("b", 30), "[REDACTED:openai_key]"},
		{"stripe", "sk_live_" + strings.Repeat("c", 24), "[REDACTED:stripe_key]"},
		{"google", "AIza" + strings.Repeat("d", 35), "[REDACTED:google_api_key]"},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_def-ghi", "[REDACTED:jwt]"},
		{"bearer", "Authorization: Bearer abcdef0123456789xyz", "Authorization: Bearer [REDACTED:bearer_token]"},
		{"url password", "postgres://admin:hunter2@db:5432/x", "postgres://admin:[REDACTED:url_password]@db:5432/x"},
		{"json password", `{"user":"a","password":"hunter2"}`, `{"user":"a","password":"[REDACTED:secret_value]"}`},
		{"json api key", `{"api_key": "k-123"}`, `{"api_key": "[REDACTED:secret_value]"}`},
		{"escaped json", `{"text":"{\"client_secret\":\"s3cr3t\"}"}`, `{"text":"{\"client_secret\":\"[REDACTED:secret_value]\"}"}`},
		{"key=value", "curl -d password=hunter22 x", "curl -d password=[REDACTED:secret_value] x"},
		{"access_token=", "https://x/cb?access_token=abcdef123&x=1", "https://x/cb?access_token=[REDACTED:secret_value]&x=1"},
		{"private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nafter", "[REDACTED:private_key]\nafter"},
		{"cut private key", "x -----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", "x [REDACTED:private_key]"},
		{"plain", `{"path":"/home/alice/notes.txt","max_tokens":100}`, `{"path":"/home/alice/notes.txt","max_tokens":100}`},
		{"prose", "the tokenizer splits words", "the tokenizer splits words"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (BuiltinRedactor{}).Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

type upperRedactor struct{}

func (upperRedactor) Redact(s string) string { return strings.ToUpper(s) }

func TestClip(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		r        Redactor
		want     string
		wantTrun bool
	}{
		{"fits", "hello", 10, nil, "hello", false},
		{"cut", "hello world", 5, nil, "hello", true},
		{"utf8 boundary", "日本語", 4, nil, "日", true},
		{"drop", "secret", -1, nil, "", true},
		{"drop empty", "", -1, nil, "", false},
		{"redacts", "abc", 10, upperRedactor{}, "ABC", false},
		{"secret straddling the limit", "0123456789 AKIAIOSFODNN7EXAMPLE", 15, BuiltinRedactor{}, "0123456789 [RED", true},
		{"zero", "x", 0, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, trunc := clip(tt.in, tt.max, tt.r)
			if got != tt.want || trunc != tt.wantTrun {
				t.Errorf("clip(%q, %d) = %q, %v, want %q, %v", tt.in, tt.max, got, trunc, tt.want, tt.wantTrun)
			}
		})
	}
	// A huge value is cut before redaction, so the cost is bounded, but a
	// secret right at the limit is still redacted whole.
	huge := strings.Repeat("a", 100) + " AKIAIOSFODNN7EXAMPLE " + strings.Repeat("b", 10<<20)
	got, trunc := clip(huge, 110, BuiltinRedactor{})
	if !trunc || strings.Contains(got, "AKIA") || len(got) > 110 || !utf8.ValidString(got) {
		t.Errorf("clip(huge) = %q, %v", got, trunc)
	}
}
