package audit

import (
	"bytes"
	"regexp"
	"slices"
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
// passwords) and the values of JSON members and key=value pairs whose
// names say they are secret, and replaces them with typed placeholders
// such as "[REDACTED:github_token]". It finds fewer secrets than the
// detection engine, but never writes the obvious ones.
//
// It sits on every call, so it never runs a regular expression over the
// whole text: it finds candidate positions with substring search (needles)
// and checks the shape there, with an anchored expression or by hand. Text
// without a needle costs one lower-casing pass and a few searches.
type BuiltinRedactor struct{}

var _ Redactor = BuiltinRedactor{}

// tokenPattern is a credential with a recognizable start: each match
// begins at one of its needles (lower-case; the expression decides case)
// and, when word is set, not in the middle of a word.
type tokenPattern struct {
	kind    string
	needles []string
	word    bool
	re      *regexp.Regexp // anchored with ^; a group, if any, is the secret part
}

var tokenPatterns = []tokenPattern{
	{"private_key", []string{"-----begin"}, false, regexp.MustCompile(`^-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|$)`)},
	{"jwt", []string{"eyj"}, true, regexp.MustCompile(`^eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`)},
	{"aws_access_key", []string{"akia", "asia", "abia", "acca"}, true, regexp.MustCompile(`^(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?:[^A-Za-z0-9]|$)`)},
	{"github_token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, true, regexp.MustCompile(`^(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`)},
	{"gitlab_token", []string{"glpat-"}, true, regexp.MustCompile(`^glpat-[A-Za-z0-9_-]{20,}`)},
	{"slack_token", []string{"xox"}, true, regexp.MustCompile(`^xox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"anthropic_key", []string{"sk-ant-"}, true, regexp.MustCompile(`^sk-ant-[A-Za-z0-9_-]{20,}`)},
	{"openai_key", []string{"sk-"}, true, regexp.MustCompile(`^sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`)},
	{"stripe_key", []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, true, regexp.MustCompile(`^[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`)},
	{"google_api_key", []string{"aiza"}, true, regexp.MustCompile(`^AIza[A-Za-z0-9_-]{35}`)},
	{"npm_token", []string{"npm_"}, true, regexp.MustCompile(`^npm_[A-Za-z0-9]{36}`)},
	{"huggingface_token", []string{"hf_"}, true, regexp.MustCompile(`^hf_[A-Za-z0-9]{30,}`)},
	{"bearer_token", []string{"bearer", "basic", "token"}, true, regexp.MustCompile(`^(?i:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{12,})`)},
}

// secretWords in a member or parameter name mark its value as secret:
// "password", "client_secret", "api_key", "X-Auth-Token", "session_id".
var secretWords = []string{"pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "access_key",
	"access-key", "private_key", "private-key", "credential", "authorization", "cookie", "session_id", "sessionid", "session-id"}

// span is a stretch of text to replace.
type span struct {
	start, end int
	kind       string
}

// lowerBufs recycles the lower-cased copies that needles are searched in.
var lowerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Redact implements [Redactor].
func (BuiltinRedactor) Redact(s string) string {
	bp := lowerBufs.Get().(*[]byte)
	low := appendLowerASCII((*bp)[:0], s)
	var small [8]span
	spans := small[:0]
	for i := range tokenPatterns {
		spans = tokenPatterns[i].find(s, low, spans)
	}
	spans = findURLPasswords(s, low, spans)
	spans = findSecretValues(s, low, spans)
	*bp = low[:0]
	lowerBufs.Put(bp)
	if len(spans) == 0 {
		return s
	}
	return replaceSpans(s, spans)
}

func (p *tokenPattern) find(s string, low []byte, spans []span) []span {
	for _, n := range p.needles {
		for off := 0; ; {
			i := bytes.Index(low[off:], []byte(n))
			if i < 0 {
				break
			}
			i += off
			off = i + 1
			if p.word && i > 0 && isWordByte(s[i-1]) {
				continue
			}
			m := p.re.FindStringSubmatchIndex(s[i:])
			if m == nil {
				continue
			}
			start, end := i+m[0], i+m[1]
			if len(m) >= 4 && m[2] >= 0 {
				start, end = i+m[2], i+m[3]
			}
			if p.kind == "aws_access_key" && end > start+20 {
				end = start + 20 // the expression also matched the byte after the key
			}
			spans = append(spans, span{start, end, p.kind})
			off = end
		}
	}
	return spans
}

// findURLPasswords finds the password of scheme://user:password@host.
func findURLPasswords(s string, low []byte, spans []span) []span {
	for off := 0; ; {
		i := bytes.Index(low[off:], []byte("://"))
		if i < 0 {
			return spans
		}
		i += off
		off = i + 3
		j := i + 3
		for j < len(s) && !strings.ContainsRune("/ \t\r\n:@\"", rune(s[j])) {
			j++
		}
		if j >= len(s) || s[j] != ':' {
			continue
		}
		k := j + 1
		for k < len(s) && !strings.ContainsRune("/ \t\r\n@\"", rune(s[k])) {
			k++
		}
		if k < len(s) && s[k] == '@' && k > j+1 {
			spans = append(spans, span{j + 1, k, "url_password"})
			off = k
		}
	}
}

// findSecretValues finds the values of JSON members ("password": "...",
// also inside an escaped JSON string) and of key=value pairs whose name
// holds a secret word.
func findSecretValues(s string, low []byte, spans []span) []span {
	nameEnd := -1 // a name already handled for an earlier word
	for _, w := range secretWords {
		for off := 0; ; {
			i := bytes.Index(low[off:], []byte(w))
			if i < 0 {
				break
			}
			i += off
			off = i + len(w)
			a, b := i, i+len(w)
			for a > 0 && isNameByte(s[a-1]) {
				a--
			}
			for b < len(s) && isNameByte(s[b]) {
				b++
			}
			if b == nameEnd {
				continue
			}
			nameEnd = b
			if sp, ok := secretValueAfter(s, a, b); ok {
				spans = append(spans, sp)
				off = max(off, sp.end)
			}
		}
	}
	return spans
}

// secretValueAfter reads the value following the name s[a:b].
func secretValueAfter(s string, a, b int) (span, bool) {
	escaped := a >= 2 && s[a-1] == '"' && s[a-2] == '\\'
	quoted := a >= 1 && s[a-1] == '"'
	j := b
	if quoted {
		if escaped {
			if !strings.HasPrefix(s[j:], `\"`) {
				return span{}, false
			}
			j += 2
		} else {
			if j >= len(s) || s[j] != '"' {
				return span{}, false
			}
			j++
		}
	}
	j = skipSpace(s, j)
	if j >= len(s) {
		return span{}, false
	}
	if quoted {
		if s[j] != ':' {
			return span{}, false
		}
		j = skipSpace(s, j+1)
		if escaped {
			if !strings.HasPrefix(s[j:], `\"`) {
				return span{}, false
			}
			v := j + 2
			e := strings.Index(s[v:], `\"`)
			if e <= 0 {
				return span{}, false
			}
			return span{v, v + e, "secret_value"}, true
		}
		if j >= len(s) || s[j] != '"' {
			return span{}, false // a number, object or array: not a secret string
		}
		v := j + 1
		for e := v; e < len(s); e++ {
			switch s[e] {
			case '\\':
				e++
			case '"':
				if e == v {
					return span{}, false
				}
				return span{v, e, "secret_value"}, true
			}
		}
		return span{v, len(s), "secret_value"}, true // cut off: redact to the end
	}
	if s[j] != '=' {
		return span{}, false
	}
	v := skipSpace(s, j+1)
	e := v
	for e < len(s) && !strings.ContainsRune(" \t\r\n&;\"',", rune(s[e])) {
		e++
	}
	if e == v {
		return span{}, false
	}
	return span{v, e, "secret_value"}, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
		i++
	}
	return i
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isNameByte(c byte) bool { return isWordByte(c) || c == '-' || c == '.' }

// replaceSpans replaces each span with its placeholder; overlapping spans
// merge into the first.
func replaceSpans(s string, spans []span) string {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(spans); i++ {
		sp := spans[i]
		if sp.start < last {
			continue // inside the previous span
		}
		end := sp.end
		for i+1 < len(spans) && spans[i+1].start < end {
			end = max(end, spans[i+1].end)
			i++
		}
		b.WriteString(s[last:sp.start])
		b.WriteString("[REDACTED:")
		b.WriteString(sp.kind)
		b.WriteString("]")
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
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
