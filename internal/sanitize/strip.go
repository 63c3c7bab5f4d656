package sanitize

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hiddenRune reports characters that render as nothing or reorder text:
// zero-width characters, bidi embeddings, overrides and isolates, tag
// characters, variation selectors, Hangul fillers, other Cf, C0 controls
// other than tab/LF/CR, DEL and C1 controls. Left-to-right and
// right-to-left marks stay: right-to-left text needs them and they cannot
// reorder anything on their own.
func hiddenRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
		return true
	case r < 0x80:
		return false
	case r == 0x200e || r == 0x200f:
		return false
	case r >= 0xE0000 && r <= 0xE007F, r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF,
		r >= 0x180B && r <= 0x180F, r >= 0x200B && r <= 0x200D, r >= 0x2060 && r <= 0x2064, r == 0xFEFF,
		r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x061C,
		r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0:
		return true
	}
	return unicode.Is(unicode.Cf, r)
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
			i += escapeLen(t[i:])
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

// escapeLen returns the length of the escape sequence at the start of s
// (which begins with ESC), at least 1. It matches the normalizer's
// parsing: CSI, OSC/DCS/SOS/PM/APC strings up to BEL or ST, and two-byte
// escapes. An unterminated string escape runs to the end of the text.
func escapeLen(s string) int {
	if len(s) < 2 {
		return 1
	}
	switch s[1] {
	case '[':
		i := 2
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3F {
			i++
		}
		if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7E {
			i++
		}
		return i
	case ']', 'P', 'X', '^', '_':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	if s[1] >= 0x20 && s[1] <= 0x7E {
		return 2
	}
	return 1
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
