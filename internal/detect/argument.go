package detect

import (
	"fmt"
	"strings"

	"mcpwarden/internal/classify"
	"mcpwarden/internal/normalize"
)

// InspectArguments inspects the arguments of a tools/call request (a JSON
// object). Every string value is checked as text for injected
// instructions, as in any argument, and by the shell, path, URL and SQL
// classifiers. Field paths are "arguments.<name>".
func (e *Engine) InspectArguments(raw []byte) (Verdict, error) {
	return e.inspectJSON(raw, Argument, "arguments", "arguments")
}

// riskScale turns a classifier risk into a share of the rule's weight.
var riskScale = [...]float64{classify.None: 0, classify.Low: 0, classify.Medium: 0.4, classify.High: 0.85, classify.Critical: 1}

// detectArgument runs the classifiers on an argument value.
func (e *Engine) detectArgument(st *state, field, s string) {
	if st.kind != Argument || s == "" {
		return
	}
	run := func(det string, r classify.Result) {
		rules := e.byDet[det]
		if len(rules) == 0 {
			return
		}
		for _, reason := range r.Reasons {
			scale := riskScale[reason.Risk]
			if scale == 0 {
				continue
			}
			sp := normalize.Span{Start: 0, End: len(s)}
			if reason.Offset >= 0 && reason.Offset < len(s) {
				sp = normalize.Span{Start: reason.Offset, End: reason.Offset + 1}
			}
			for _, rule := range rules {
				st.add(rule, field, sp, e.redact(clip(s)), fmt.Sprintf("%s (%s): %s", reason.Code, reason.Risk, reason.Detail), scale)
			}
		}
	}
	run("argument.shell", classify.Shell(s))
	run("argument.path", classify.Path(s).Result)
	if looksLikeURL(s) {
		run("argument.url", classify.URL(s).Result)
	}
	run("argument.sql", classify.SQL(s))
}

// looksLikeURL limits the URL classifier to values that a client would
// treat as a URL or a bare host.
func looksLikeURL(s string) bool {
	if strings.Contains(s, "://") || strings.HasPrefix(strings.ToLower(s), "www.") {
		return true
	}
	if strings.ContainsAny(s, " \t\n") || len(s) > 300 {
		return false
	}
	host := s
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	return strings.Count(host, ".") >= 1 && strings.IndexFunc(host, func(r rune) bool {
		return !(r == '.' || r == ':' || r == '-' || r == '[' || r == ']' || r == '%' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0
}
