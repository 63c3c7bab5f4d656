package sanitize

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"mcpwarden/internal/normalize"
)

// hiddenRune reports characters to strip: everything the normalizer
// treats as hidden (zero-width characters, bidi controls, tag characters,
// variation selectors, Hangul fillers, other Cf, C0 and C1 controls)
// except left-to-right and right-to-left marks, which right-to-left text
// needs and which cannot reorder anything on their own. Tab, LF and CR
// stay.
func hiddenRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x200e || r == 0x200f:
		return false
	case r < 0x20 || r == 0x7f:
		return true
	}
	return normalize.Invisible(r)
}

func unicodeSpace(r rune) bool { return unicode.IsSpace(r) }

// stripHidden removes escape sequences and hidden characters. Invalid
// UTF-8 becomes U+FFFD so the output is always valid text.
func stripHidden(t string, rep *Report) string {
	clean := true
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); {
		c := t[i]
		if c == 0x1b {
			i += normalize.EscapeLen(t[i:])
			rep.EscapesRemoved++
			continue
		}
		r, n := utf8.DecodeRuneInString(t[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		if hiddenRune(r) {
			rep.HiddenRemoved++
			i += n
			continue
		}
		b.WriteString(t[i : i+n])
		i += n
	}
	return b.String()
}

// Markers are matched case-insensitively, with the fullwidth and
// angle-quote look-alikes of < > | that models also read as markers.
var (
	lt, gt, bar = `[<＜‹〈]`, `[>＞›〉]`, `[|｜]`
	// chatToken: <|im_start|>, <|eot_id|>, <|start_header_id|> ...
	chatToken = regexp.MustCompile(`(?i)` + lt + bar + `\s*(/?[a-z][a-z0-9_.-]{0,40})\s*` + bar + gt)
	// instToken: [INST], [/INST], <<SYS>>, <</SYS>>, <start_of_turn>, <end_of_turn>
	instToken = regexp.MustCompile(`(?i)\[\s*(/?inst)\s*\]|` + lt + lt + `\s*(/?sys)\s*` + gt + gt + `|` + lt + `\s*((?:start|end)_of_turn)\s*` + gt)
	// roleTag: <system>, </instructions>, <tool_call name="x">, <IMPORTANT> ...
	roleTag = regexp.MustCompile(`(?i)` + lt + `\s*(/?\s*(?:system|system_prompt|system_message|developer|assistant|admin|administrator|instructions?|sys|override|jailbreak|prompt|user_instructions|ai_instructions|model_instructions|agent_instructions|important|hidden|secret|tool_call|tool_use|function_calls?|invoke|antml:[a-z_]+))\b[^<>＜＞\n]{0,80}` + gt)
)

// defang rewrites markers into plain bracketed words: "<|im_start|>"
// becomes "(im_start)", "<system>" becomes "(system)". The rewritten forms
// match no marker, which keeps defanging idempotent.
func defang(t string, rep *Report) string {
	if !strings.ContainsAny(t, "<[＜‹〈") {
		return t
	}
	repl := func(re *regexp.Regexp, in string) string {
		return re.ReplaceAllStringFunc(in, func(m string) string {
			rep.MarkersDefanged++
			sub := re.FindStringSubmatch(m)
			word := ""
			for _, g := range sub[1:] {
				if g != "" {
					word = g
					break
				}
			}
			word = strings.Join(strings.Fields(word), "")
			return "(" + strings.ToLower(word) + ")"
		})
	}
	t = repl(chatToken, t)
	t = repl(instToken, t)
	t = repl(roleTag, t)
	return t
}
