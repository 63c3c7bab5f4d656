package posture

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"mcpwarden/internal/secrets"
)

// secretName matches variable, header and flag names that hold secrets.
var secretName = regexp.MustCompile(`(?i)(^|[_.-])(token|secret|secrets|password|passwd|pwd|pass|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|auth|authorization|bearer|cookie|session|signature|pat|key|dsn|connection[_-]?string)($|[_.-])|(token|secret|password|apikey|api_key|accesskey)`)

// notSecretName excludes names that mention a secret but hold something
// else: paths, files, IDs, switches.
var notSecretName = regexp.MustCompile(`(?i)(path|file|dir|url_?path|_id$|^id$|enabled|disable|type|mode|name$|region|level|timeout|length|prefix|header_name|key_?id$)`)

// tokenShapes are value formats that are secrets whatever they are called.
var tokenShapes = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`^gh[pousr]_[A-Za-z0-9]{36,}$`), "a GitHub token"},
	{regexp.MustCompile(`^github_pat_[A-Za-z0-9_]{22,}$`), "a GitHub fine-grained token"},
	{regexp.MustCompile(`^glpat-[A-Za-z0-9_-]{20,}$`), "a GitLab token"},
	{regexp.MustCompile(`^sk-ant-[A-Za-z0-9_-]{20,}$`), "an Anthropic API key"},
	{regexp.MustCompile(`^sk-(proj-)?[A-Za-z0-9_-]{20,}$`), "an OpenAI-style API key"},
	{regexp.MustCompile(`^xox[abposr]-[A-Za-z0-9-]{10,}$`), "a Slack token"},
	{regexp.MustCompile(`^(AKIA|ASIA)[0-9A-Z]{16}$`), "an AWS access key ID"},
	{regexp.MustCompile(`^AIza[0-9A-Za-z_-]{35}$`), "a Google API key"},
	{regexp.MustCompile(`^npm_[A-Za-z0-9]{36}$`), "an npm token"},
	{regexp.MustCompile(`^hf_[A-Za-z0-9]{30,}$`), "a Hugging Face token"},
	{regexp.MustCompile(`^sntry[su]_[A-Za-z0-9+/=_-]{20,}$`), "a Sentry token"},
	{regexp.MustCompile(`^pat[A-Za-z0-9]{14}\.[a-f0-9]{64}$`), "an Airtable token"},
	{regexp.MustCompile(`^(sk|rk)_live_[A-Za-z0-9]{20,}$`), "a Stripe live key"},
	{regexp.MustCompile(`^lin_api_[A-Za-z0-9]{30,}$`), "a Linear API key"},
	{regexp.MustCompile(`^eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}$`), "a JWT"},
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`), "a private key"},
}

// dummy matches the placeholder text people leave in example configs.
var dummy = regexp.MustCompile(`(?i)^(<.*>|\[.*\]|x+|\*+|\.+|changeme|change_me|replace_?me|todo|none|null|test|example|dummy|secret|password|token|your[-_ ].*|.*[-_ ]here|insert[-_ ].*|add[-_ ].*)$`)

// secretVerdict is why a value looks like a secret; empty means it does not.
type secretVerdict struct {
	what       string
	confidence float64
}

// classifySecret judges a value given the name it is stored under.
func classifySecret(name, value string) (secretVerdict, bool) {
	v := strings.TrimSpace(value)
	if scheme, rest, ok := strings.Cut(v, " "); ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "basic") || strings.EqualFold(scheme, "token")) {
		v = strings.TrimSpace(rest)
	}
	if v == "" || isReference(v) || dummy.MatchString(v) {
		return secretVerdict{}, false
	}
	for _, s := range tokenShapes {
		if s.re.MatchString(v) {
			return secretVerdict{what: "the value looks like " + s.what, confidence: 0.95}, true
		}
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, hasPw := u.User.Password(); hasPw {
			return secretVerdict{what: "the value is a URL with a password", confidence: 0.9}, true
		}
	}
	named := name != "" && secretName.MatchString(name) && !notSecretName.MatchString(name)
	if looksLikePath(v) || isNumberOrBool(v) {
		return secretVerdict{}, false
	}
	ent := secrets.Entropy(v)
	switch {
	case named && len(v) >= 8 && ent >= 3.0:
		return secretVerdict{what: fmt.Sprintf("the name %s says secret and the value is random-looking", name), confidence: 0.85}, true
	case named && len(v) >= 8:
		return secretVerdict{what: fmt.Sprintf("the name %s says secret", name), confidence: 0.6}, true
	case len(v) >= 32 && ent >= 4.2 && mixedCharset(v) && !strings.ContainsAny(v, " /"):
		return secretVerdict{what: "the value is long and random-looking", confidence: 0.5}, true
	}
	return secretVerdict{}, false
}

// isReference reports a value that refers to a secret instead of holding
// it: a placeholder of any client's syntax.
func isReference(v string) bool {
	return strings.Contains(v, "${") || strings.Contains(v, "{env:") || strings.Contains(v, "{file:") ||
		strings.Contains(v, "${{") || (strings.HasPrefix(v, "$") && len(v) > 1 && !strings.ContainsAny(v[1:], " $")) ||
		(strings.HasPrefix(v, "%") && strings.HasSuffix(v, "%") && len(v) > 2)
}

func looksLikePath(v string) bool {
	return (strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, `.\`) ||
		(len(v) > 2 && v[1] == ':' && (v[2] == '\\' || v[2] == '/'))) && !strings.Contains(v, "://")
}

func isNumberOrBool(v string) bool {
	if v == "true" || v == "false" {
		return true
	}
	for _, r := range v {
		if (r < '0' || r > '9') && r != '.' && r != '-' {
			return false
		}
	}
	return true
}

func mixedCharset(s string) bool {
	var lower, upper, digit bool
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit} {
		if b {
			n++
		}
	}
	return n >= 2 && digit
}

// redacted describes a secret value without revealing any of it.
func redacted(value string) string {
	return fmt.Sprintf("[REDACTED %d chars]", len([]rune(value)))
}

// redactText masks anything secret-looking inside free text (a shell
// script, a command line) so it can be quoted as evidence.
func redactText(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '"' || r == '\'' || r == '\n' })
	out := s
	for _, f := range fields {
		name, val, hasEq := strings.Cut(f, "=")
		if !hasEq {
			name, val = "", f
		}
		if _, ok := classifySecret(strings.TrimLeft(name, "-"), val); ok && len(val) > 0 {
			out = strings.ReplaceAll(out, val, redacted(val))
		}
	}
	if r := []rune(out); len(r) > 240 {
		out = string(r[:239]) + "…"
	}
	return out
}
