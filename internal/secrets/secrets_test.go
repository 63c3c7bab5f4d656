package secrets

import (
	"strings"
	"testing"
)

// Fake credentials are assembled from pieces so that the source file
// itself does not trip secret scanners.
var (
	awsKey    = "AKIA" + "Z4K7QW2XLMN5PR3T"
	awsSecret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8MPLEKEY"
	ghToken   = "ghp_" + "a8Kd92LmQx7Zr4Tn0VbW3ycE5uJh6FsPq1Go"
	slack     = "xoxb-" + "2048613-98765432101-Zq8Wk3LmN2vB7xCt"
	stripe    = "sk_live_" + "51HqLw2Kx9Tz7Pm4Rb8Nc3Vd"
	google    = "AIza" + "SyB3k9Xq2Lm7Zr4Tn0VbW3ycE5uJh6FsPq1"
	jwt       = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	pem       = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7\nabcdefghij\n-----END RSA PRIVATE KEY-----"
	anthropic = "sk-ant-api03-" + strings.Repeat("Ab3dE5gH7jK9mN1pQ", 5)
)

func detector(t testing.TB) *Detector {
	t.Helper()
	d, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestFind(t *testing.T) {
	d := detector(t)
	tests := []struct {
		name   string
		in     string
		typ    string
		secret string
	}{
		{"aws access key", "key id " + awsKey + " here", "aws-access-key", awsKey},
		{"aws secret key", "aws_secret_access_key = " + awsSecret, "aws-secret-key", awsSecret},
		{"github token", "token: " + ghToken, "github-token", ghToken},
		{"slack token", "SLACK=" + slack, "slack-token", slack},
		{"stripe key", "use " + stripe, "stripe-key", stripe},
		{"google api key", `"key": "` + google + `"`, "google-api-key", google},
		{"jwt", "Authorization: " + jwt, "jwt", jwt},
		{"private key", "here:\n" + pem + "\ndone", "private-key", pem},
		{"anthropic", "ANTHROPIC_API_KEY=" + anthropic, "anthropic-key", anthropic},
		{"connection string", "DATABASE_URL=postgres://app:S3cr3tP4ss@db.internal:5432/app", "connection-string", "S3cr3tP4ss"},
		{"url credentials", "fetch https://bob:hunter2x@example.com/x", "connection-string", "hunter2x"},
		{"generic api key", `{"api_key": "q8Zr4Tn0VbW3ycE5uJh6"}`, "generic-secret", "q8Zr4Tn0VbW3ycE5uJh6"},
		{"generic password", "password=Tr0ub4dor&3xyzW", "generic-secret", "Tr0ub4dor&3xyzW"},
		{"bearer", "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0zz", "bearer-token", "9f8e7d6c5b4a39281706f5e4d3c2b1a0zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := d.Find(tt.in)
			for _, m := range ms {
				if m.Type == tt.typ && tt.in[m.Span.Start:m.Span.End] == tt.secret {
					return
				}
			}
			t.Errorf("Find(%q) = %+v, want %s %q", tt.in, ms, tt.typ, tt.secret)
		})
	}
}

func TestFindNegatives(t *testing.T) {
	d := detector(t)
	for _, in := range []string{
		"The api_key parameter is required.",
		"password: your_password_here",
		"token = ${GITHUB_TOKEN}",
		"Set SECRET_KEY=<your secret key>",
		"api_key: example-key-123456789",
		"Use a Bearer token in the Authorization header.",
		"https://example.com/path?x=1",
		"postgres://localhost:5432/db",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"The AKIA prefix marks AWS access keys.",
		"-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----",
		"token: [REDACTED:github-token]",
	} {
		if ms := d.Find(in); len(ms) != 0 {
			t.Errorf("Find(%q) = %+v, want none", in, ms)
		}
	}
}

func TestRedact(t *testing.T) {
	d := detector(t)
	in := "id=" + awsKey + " token " + ghToken + " db postgres://u:pa55w0rdX@h/db"
	got, ms := d.Redact(in)
	want := "id=[REDACTED:aws-access-key] token [REDACTED:github-token] db postgres://u:[REDACTED:connection-string]@h/db"
	if got != want {
		t.Errorf("Redact(%q) = %q, want %q", in, got, want)
	}
	if len(ms) != 3 {
		t.Errorf("Redact(%q) found %d secrets, want 3", in, len(ms))
	}
	again, ms2 := d.Redact(got)
	if again != got || len(ms2) != 0 {
		t.Errorf("Redact(Redact(x)) = %q (%d matches), want %q unchanged", again, len(ms2), got)
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	tests := []struct {
		name string
		r    Rule
	}{
		{"no keywords", Rule{ID: "x", Regex: "x"}},
		{"bad regex", Rule{ID: "x", Keywords: []string{"x"}, Regex: "("}},
		{"upper-case id", Rule{ID: "X", Keywords: []string{"x"}, Regex: "x"}},
		{"two groups", Rule{ID: "x", Keywords: []string{"x"}, Regex: "(a)(b)"}},
		{"bad confidence", Rule{ID: "x", Keywords: []string{"x"}, Regex: "x", Confidence: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Options{Extra: []Rule{tt.r}}); err == nil {
				t.Errorf("New(Extra: %+v) = nil error, want an error", tt.r)
			}
		})
	}
}

func TestParsePackErrors(t *testing.T) {
	for name, in := range map[string]string{
		"wrong format":  "format: other\nversion: 1\nrules: [{id: a, keywords: [a], regex: a}]",
		"no version":    "format: mcpwarden.secrets/v1\nrules: [{id: a, keywords: [a], regex: a}]",
		"no rules":      "format: mcpwarden.secrets/v1\nversion: 1\nrules: []",
		"unknown field": "format: mcpwarden.secrets/v1\nversion: 1\nbogus: 1\nrules: [{id: a, keywords: [a], regex: a}]",
		"not yaml":      "{{{",
	} {
		if _, err := ParsePack([]byte(in)); err == nil {
			t.Errorf("ParsePack(%s) = nil error, want an error", name)
		}
	}
}

func TestExtraAndDisabled(t *testing.T) {
	d, err := New(Options{
		Extra:    []Rule{{ID: "acme-token", Keywords: []string{"acme_"}, Regex: `\b(acme_[a-z0-9]{16})\b`}},
		Disabled: []string{"aws-access-key"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := d.Find("t=acme_0123456789abcdef k=" + awsKey)
	if len(ms) != 1 || ms[0].Type != "acme-token" {
		t.Errorf("Find with extra rule and aws disabled = %+v, want one acme-token", ms)
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", awsKey, ghToken, jwt, pem, "password=Tr0ub4dor&3xyzW", "postgres://u:p4ssw0rd@h", "-----BEGIN PRIVATE KEY-----", "eyJ.eyJ."} {
		f.Add(s)
	}
	d := detector(f)
	f.Fuzz(func(t *testing.T, in string) {
		ms := d.Find(in)
		last := 0
		for _, m := range ms {
			if m.Span.Start < last || m.Span.End > len(in) || m.Span.Start >= m.Span.End {
				t.Fatalf("Find(%q) span %v out of order or range", in, m.Span)
			}
			last = m.Span.End
		}
		once, _ := d.Redact(in)
		twice, _ := d.Redact(once)
		if once != twice {
			t.Fatalf("Redact not idempotent: %q -> %q -> %q", in, once, twice)
		}
	})
}
