package audit

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redactor removes secrets from text before it is written to the audit log.
// The gateway injects the detection engine's redactor; Redact must be safe
// for concurrent use and return s itself when there is nothing to redact.
type Redactor interface {
	Redact(s string) string
}

// BuiltinRedactor is the fallback used when no [Redactor] is injected. It
// is deliberately conservative: it knows the shapes of common credentials
// (cloud and SaaS API keys, JWTs, bearer tokens, private keys, URL
// passwords) and the values of JSON members whose names say they are
// secret, and replaces them with typed placeholders such as
// "[REDACTED:github_token]". It finds fewer secrets than the detection
// engine, but never writes the obvious ones.
type BuiltinRedactor struct{}

var _ Redactor = BuiltinRedactor{}

// builtinPatterns pairs a placeholder type with the pattern of its secret
// and the needles (lower-case ASCII) one of which any match contains, so
// that the regular expression runs only on text that might match. A
// pattern with a group replaces only the group, keeping the context (the
// member name, the scheme) readable.
var builtinPatterns = []struct {
	kind    string
	needles []string
	re      *regexp.Regexp
}{
	{"private_key", []string{"private key"}, regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)`)},
	{"jwt", []string{"eyj"}, regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`)},
	{"aws_access_key", []string{"akia", "asia", "abia", "acca"}, regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`)},
	{"github_token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
	{"gitlab_token", []string{"glpat-"}, regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"slack_token", []string{"xox"}, regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"anthropic_key", []string{"sk-ant-"}, regexp.MustCompile(`\bsk-ant-[A-Za-z0-9_-]{20,}`)},
	{"openai_key", []string{"sk-"}, regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`)},
	{"stripe_key", []string{"sk_live", "sk_test", "rk_live", "rk_test"}, regexp.MustCompile(`\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`)},
	{"google_api_key", []string{"aiza"}, regexp.MustCompile(`\bAIza[A-Za-z0-9_-]{35}`)},
	{"npm_token", []string{"npm_"}, regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}`)},
	{"huggingface_token", []string{"hf_"}, regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
	{"bearer_token", []string{"bearer", "basic", "token"}, regexp.MustCompile(`(?i)\b(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{12,})`)},
	{"url_password", []string{"://"}, regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@"]*:([^/\s@"]+)@`)},
	// A JSON member (possibly inside an escaped JSON string) whose name
	// says its value is secret: "password": "...", \"api_key\":\"...\".
	{"secret_value", secretNeedles, regexp.MustCompile(`(?i)\\?"[a-z0-9_.-]*` + secretNames + `[a-z0-9_.-]*\\?"\s*:\s*\\?"((?:[^"\\]|\\[^"])+)\\?"`)},
	// The same as key=value, in URLs, command lines and config text.
	{"secret_value", secretNeedles, regexp.MustCompile(`(?i)[a-z0-9_.-]*` + secretNames + `[a-z0-9_.-]*\s*=\s*([^\s&;"',]{6,})`)},
}

const secretNames = `(?:passw(?:or)?d|passphrase|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization|cookie|session[_-]?id)`

var secretNeedles = []string{"pass", "pwd", "secret", "token", "key", "credential", "authorization", "cookie", "session"}

// lowerBufs recycles the lower-cased copies that needle checks search.
var lowerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Redact implements [Redactor].
func (BuiltinRedactor) Redact(s string) string {
	bp := lowerBufs.Get().(*[]byte)
	low := appendLowerASCII((*bp)[:0], s)
	for _, p := range builtinPatterns {
		if containsAny(low, p.needles) {
			s = replaceSecret(p.re, s, "[REDACTED:"+p.kind+"]")
		}
	}
	*bp = low[:0]
	lowerBufs.Put(bp)
	return s
}

func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func containsAny(b []byte, needles []string) bool {
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			return true
		}
	}
	return false
}

// replaceSecret replaces each match of re in s with placeholder: the whole
// match, or only its first group when the pattern has one.
func replaceSecret(re *regexp.Regexp, s, placeholder string) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range idx {
		start, end := m[0], m[1]
		if len(m) >= 4 && m[2] >= 0 {
			start, end = m[2], m[3]
		}
		b.WriteString(s[last:start])
		b.WriteString(placeholder)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// redactWindow is how far past the size limit text is redacted before it
// is cut, so that a secret straddling the limit is redacted whole instead
// of leaving a prefix that no longer matches any pattern. It exceeds the
// largest PEM private key block (an 8192-bit RSA key is about 6.4 KB).
const redactWindow = 16 << 10

// clip redacts s with r (nil means no redaction) and cuts it to at most max
// bytes on a UTF-8 boundary. max < 0 drops s entirely. It reports whether s
// was cut.
func clip(s string, max int, r Redactor) (string, bool) {
	if max < 0 {
		return "", s != ""
	}
	cut := false
	if len(s) > max+redactWindow {
		s, cut = s[:max+redactWindow], true
	}
	if r != nil {
		s = r.Redact(s)
	}
	if len(s) > max {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	return s, cut
}
