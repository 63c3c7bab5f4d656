package normalize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// HiddenKind says what was hidden.
type HiddenKind uint8

const (
	_                 HiddenKind = iota
	ZeroWidth                    // U+200B–200D, U+2060–2064, U+FEFF, U+180E
	Bidi                         // bidi embeddings, overrides, isolates and marks
	Tag                          // Unicode tag characters U+E0000–E007F
	VariationSelector            // U+FE00–FE0F, U+E0100–E01EF, Mongolian FVS
	Format                       // other Cf characters
	Control                      // C0/C1 controls other than tab, LF, CR
	Escape                       // ANSI CSI, OSC, DCS and other ESC sequences
	Confusable                   // look-alike letters mixed into a Latin word
	HTMLComment                  // <!-- ... -->
	MarkdownComment              // [//]: # (...) and friends
	HiddenElement                // HTML hidden by attribute or style, <details>
)

var hiddenNames = [...]string{"", "zero_width", "bidi", "tag", "variation_selector", "format", "control", "escape", "confusable", "html_comment", "markdown_comment", "hidden_element"}

func (k HiddenKind) String() string {
	if int(k) < len(hiddenNames) {
		return hiddenNames[k]
	}
	return "hidden"
}

// MarshalText names the kind in JSON.
func (k HiddenKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Hidden is a run of removed characters, or a region of the text that a
// person reading the rendered text would not see.
type Hidden struct {
	Kind HiddenKind `json:"kind"`
	Span Span       `json:"span"` // in Orig
	// Rune is the removed character when the run holds only one kind of
	// character, else 0.
	Rune rune `json:"rune,omitempty"`
	// Count is the number of characters merged into this record.
	Count int `json:"count"`
	// Suspicious is false for uses with a typographic purpose: a joiner
	// inside an emoji sequence, one variation selector after a symbol, a
	// leading byte-order mark, a soft hyphen, a left-to-right mark.
	Suspicious bool `json:"suspicious"`
}

// Invisible reports whether r is a character Normalize removes as hidden
// (any [HiddenKind] but the markup ones), whatever its context.
func Invisible(r rune) bool { return hiddenKind(r) != 0 }

// hiddenKind classifies r, or returns 0 for a visible character.
func hiddenKind(r rune) HiddenKind {
	switch {
	case r < 0x80:
		return 0
	case r >= 0xE0000 && r <= 0xE007F:
		return Tag
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF, r >= 0x180B && r <= 0x180D, r == 0x180F:
		return VariationSelector
	case r >= 0x200B && r <= 0x200D, r >= 0x2060 && r <= 0x2064, r == 0xFEFF, r == 0x180E:
		return ZeroWidth
	case r == 0x200E || r == 0x200F || r == 0x061C, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return Bidi
	case r >= 0x80 && r <= 0x9F:
		return Control
	case r == utf8.RuneError:
		return 0
	case unicode.Is(unicode.Cf, r):
		return Format
	case r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0:
		// Hangul fillers render as nothing and are a known way to make
		// invisible identifiers.
		return ZeroWidth
	}
	return 0
}

// confusables folds letters that look like ASCII to the ASCII letter.
// NFKC already folds fullwidth forms and mathematical alphanumerics; this
// covers the Cyrillic, Greek, Armenian and Latin-extension look-alikes
// that survive NFKC (after Unicode's confusables.txt, restricted to
// letters that are near-identical in common fonts).
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
	'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l',
	'ɡ': 'g', 'ѵ': 'v', 'ү': 'y', 'ь': 'b', 'ո': 'n', 'ս': 'u', 'օ': 'o', 'հ': 'h', 'ց': 'g', 'զ': 'q',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't', 'Х': 'x',
	'Ѕ': 's', 'І': 'i', 'Ј': 'j', 'Ү': 'y', 'Ԛ': 'q', 'Ԝ': 'w', 'Һ': 'h', 'Ӏ': 'l',
	// Greek
	'α': 'a', 'ο': 'o', 'ρ': 'p', 'ν': 'v', 'ι': 'i', 'κ': 'k', 'τ': 't', 'υ': 'u', 'χ': 'x', 'ε': 'e', 'η': 'n',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p',
	'Τ': 't', 'Υ': 'y', 'Χ': 'x', 'ϲ': 'c', 'ϳ': 'j',
	// Latin extensions and IPA
	'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɩ': 'i', 'ʟ': 'l', 'ɴ': 'n', 'ʀ': 'r', 'ᴀ': 'a', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e',
	'ᴋ': 'k', 'ᴍ': 'm', 'ᴏ': 'o', 'ᴘ': 'p', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ᴢ': 'z', 'ʏ': 'y', 'ɢ': 'g',
	'ʜ': 'h', 'ɪ': 'i', 'ꜱ': 's',
	// Punctuation that NFKC leaves alone but rules want plain
	'‘': '\'', '’': '\'', '‚': '\'', '‛': '\'', '′': '\'', '“': '"', '”': '"', '„': '"', '‟': '"', '″': '"',
	'‐': '-', '‑': '-', '‒': '-', '–': '-', '—': '-', '―': '-', '−': '-', '⁄': '/', '∕': '/', '⧸': '/',
	'‹': '<', '›': '>', '«': '"', '»': '"', '〈': '<', '〉': '>', '⟨': '<', '⟩': '>', '＜': '<', '＞': '>',
	'ǀ': '|', '∣': '|', '│': '|',
}

// fold lower-cases s and folds confusables.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || ('A' <= s[i] && s[i] <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if c, ok := confusables[r]; ok {
			r = c
		} else {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markMixedScript records a run of confusables glued to a Latin letter:
// "pаypal" with a Cyrillic а. Words wholly in another script are normal
// text and are not reported.
func (w *writer) markMixedScript(run string, start int) {
	has := false
	for _, r := range run {
		if c, ok := confusables[r]; ok && c >= 'a' && c <= 'z' {
			has = true
			break
		}
	}
	if !has {
		return
	}
	s := w.t.Orig
	end := start + len(run)
	before, _ := utf8.DecodeLastRuneInString(s[:start])
	after, _ := utf8.DecodeRuneInString(s[end:])
	if isASCIILetter(before) || isASCIILetter(after) {
		w.record(Hidden{Kind: Confusable, Span: Span{start, end}, Count: utf8.RuneCountInString(run), Suspicious: true})
	}
}

// maxEscape bounds an OSC or DCS string so an unterminated one cannot
// swallow the rest of a large input unreported.
const maxEscape = 4096

// EscapeLen returns the length of the terminal escape sequence at the
// start of s, which begins with ESC: a CSI sequence, an OSC, DCS, SOS, PM
// or APC string up to BEL or ST (at most 4 KiB when unterminated), or a
// two-byte escape. It is at least 1. The sanitizer strips exactly what
// the normalizer removes.
func EscapeLen(s string) int { return escapeLen(s) }

func escapeLen(s string) int {
	if len(s) < 2 {
		return 1
	}
	switch s[1] {
	case '[': // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E
		i := 2
		for i < len(s) && i < maxEscape && s[i] >= 0x20 && s[i] <= 0x3F {
			i++
		}
		if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7E {
			i++
		}
		return i
	case ']', 'P', 'X', '^', '_': // OSC, DCS, SOS, PM, APC: up to BEL or ST
		for i := 2; i < len(s) && i < maxEscape; i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return min(len(s), maxEscape)
	}
	if s[1] >= 0x20 && s[1] <= 0x7E {
		return 2
	}
	return 1
}

var namedEntities = map[string]rune{
	"lt": '<', "gt": '>', "amp": '&', "quot": '"', "apos": '\'', "nbsp": ' ', "sol": '/', "bsol": '\\',
	"colon": ':', "lpar": '(', "rpar": ')', "lsqb": '[', "rsqb": ']', "lbrack": '[', "rbrack": ']',
	"vert": '|', "verbar": '|', "num": '#', "excl": '!', "quest": '?', "period": '.', "comma": ',',
	"equals": '=', "plus": '+', "dollar": '$', "percnt": '%', "ast": '*', "grave": '`', "tilde": '~',
	"lbrace": '{', "rbrace": '}', "lcub": '{', "rcub": '}', "hyphen": '-', "dash": '-', "newline": '\n',
	"tab": '\t', "zwsp": 0x200B, "zwj": 0x200D, "zwnj": 0x200C, "lrm": 0x200E, "rlm": 0x200F, "shy": 0xAD,
	"lsquo": '‘', "rsquo": '’', "ldquo": '“', "rdquo": '”', "ndash": '–', "mdash": '—', "hellip": '…',
}

// entity decodes the HTML character reference at the start of s (which
// begins with '&'), returning its rune and length, or 0, 0.
func entity(s string) (rune, int) {
	if len(s) < 3 {
		return 0, 0
	}
	end := strings.IndexByte(s[:min(len(s), 12)], ';')
	if end < 2 {
		return 0, 0
	}
	body := s[1:end]
	if body[0] == '#' {
		var v uint64
		digits := body[1:]
		base := uint64(10)
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			base, digits = 16, digits[1:]
		}
		if digits == "" {
			return 0, 0
		}
		for _, c := range []byte(digits) {
			d := hexVal(c)
			if d < 0 || uint64(d) >= base {
				return 0, 0
			}
			v = v*base + uint64(d)
			if v > unicode.MaxRune {
				return 0, 0
			}
		}
		r := rune(v)
		if !utf8.ValidRune(r) {
			return 0, 0
		}
		return r, end + 1
	}
	if r, ok := namedEntities[strings.ToLower(body)]; ok {
		return r, end + 1
	}
	return 0, 0
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
