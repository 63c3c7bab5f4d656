package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Everything a report quotes (tool names, descriptions, evidence, even a
// server's stderr in a not-scanned reason) was written by the party under
// review. Hidden characters are the attack: zero-width and tag characters
// smuggle instructions past a human reader, bidi controls reorder what the
// reader sees, and control bytes drive the terminal. So renderers never
// print such characters; they print a visible stand-in instead, marked
// hidden so each format can style it.

// segment is a piece of untrusted text after revealing. A hidden segment is
// a visible stand-in for characters a reader would not otherwise see.
type segment struct {
	text   string
	hidden bool
}

// reveal splits s into plain runs and visible stand-ins for its hidden
// characters. In multiline mode '\n' and '\t' are kept as they are; in
// single-line mode they are revealed too.
func reveal(s string, multiline bool) []segment {
	var segs []segment
	var plain strings.Builder
	flush := func() {
		if plain.Len() > 0 {
			segs = append(segs, segment{text: plain.String()})
			plain.Reset()
		}
	}
	hide := func(t string) {
		flush()
		if n := len(segs); n > 0 && segs[n-1].hidden {
			segs[n-1].text += t
			return
		}
		segs = append(segs, segment{text: t, hidden: true})
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			hide(fmt.Sprintf(`\x%02x`, s[i]))
			i++
			continue
		case isTag(r):
			// Unicode tag characters mirror ASCII invisibly; decode the
			// whole run so the reader sees the smuggled text.
			j := i
			var decoded strings.Builder
			for j < len(s) {
				t, n := utf8.DecodeRuneInString(s[j:])
				if !isTag(t) {
					break
				}
				if t >= 0xE0020 && t <= 0xE007E {
					decoded.WriteRune(t - 0xE0000)
				} else {
					fmt.Fprintf(&decoded, `\U%08X`, t)
				}
				j += n
			}
			hide(fmt.Sprintf("⟨tags %q⟩", decoded.String()))
			i = j
			continue
		case r == '\n' || r == '\t':
			if multiline {
				plain.WriteRune(r)
			} else if r == '\n' {
				hide(`\n`)
			} else {
				hide(`\t`)
			}
		case r == '\r':
			hide(`\r`)
		case isHidden(r):
			// Collapse runs of one character: ten thousand zero-width
			// spaces are one fact, not ten thousand.
			j, count := i+size, 1
			for j < len(s) {
				t, n := utf8.DecodeRuneInString(s[j:])
				if t != r {
					break
				}
				count++
				j += n
			}
			if count > 1 {
				hide(fmt.Sprintf("⟨U+%04X ×%d⟩", r, count))
			} else {
				hide(fmt.Sprintf("⟨U+%04X⟩", r))
			}
			i = j
			continue
		default:
			plain.WriteRune(r)
		}
		i += size
	}
	flush()
	return segs
}

// revealed is reveal joined back into one string, for formats without a
// way to style hidden segments.
func revealed(s string, multiline bool) string {
	var b strings.Builder
	for _, seg := range reveal(s, multiline) {
		b.WriteString(seg.text)
	}
	return b.String()
}

func isTag(r rune) bool { return r >= 0xE0000 && r <= 0xE007F }

// isHidden reports whether r is invisible, reorders text, or is not a
// printable character at all.
func isHidden(r rune) bool {
	switch r {
	case ' ':
		return false
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800: // Hangul fillers, braille blank: invisible letters
		return true
	}
	if r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF { // variation selectors
		return true
	}
	// unicode.IsPrint excludes controls, format characters (zero-width,
	// bidi), private use, unassigned code points, and every space but ' '.
	return !unicode.IsPrint(r)
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// oneLine collapses runs of whitespace (newlines included) to one space,
// for excerpts such as server instructions.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
