package normalize

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Minimum lengths of an encoded run worth decoding. Shorter runs are
// mostly identifiers and decode to too little text to carry an
// instruction.
const (
	minBase64 = 20
	minHex    = 16
	// maxRun bounds one encoded run; longer runs (inline images, bundles)
	// are decoded only up to this many bytes.
	maxRun = 256 << 10
)

// b64class marks bytes of the standard and URL-safe base64 alphabets.
var b64class = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 2
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 3
	}
	t['+'], t['/'], t['-'], t['_'] = 4, 4, 4, 4
	return t
}()

// b64bit is 1<<class of b64class, 0 outside the alphabets.
var b64bit = func() (t [256]uint8) {
	for c, k := range b64class {
		if k != 0 {
			t[c] = 1 << k
		}
	}
	return t
}()

// decodeLayers finds encoded payloads in t.Orig, decodes them and
// normalizes each decoded payload as a nested Text.
func decodeLayers(t *Text, depth int, b *budget) {
	s := t.Orig
	// Every run worth decoding is at least minHex long, so it covers one
	// of the positions minHex-1, 2*minHex-1, ...: look only there, and
	// widen to the whole run on a hit. Prose costs a sixteenth of a scan.
	floor := 0 // everything before floor has been looked at
	for p := minHex - 1; p < len(s); {
		if b64bit[s[p]] == 0 {
			p += minHex
			continue
		}
		i := p
		for i > floor && b64bit[s[i-1]] != 0 {
			i--
		}
		j := i
		var kinds uint8 // bit per class seen
		for j < len(s) {
			bit := b64bit[s[j]]
			if bit == 0 {
				break
			}
			kinds |= bit
			j++
		}
		hexOnly := false
		if j-i >= minHex {
			hexOnly = true
			for k := i; k < j && hexOnly; k++ {
				hexOnly = hexVal(s[k]) >= 0
			}
		}
		end := j
		for end < len(s) && end-j < 2 && s[end] == '=' {
			end++
		}
		run := s[i:end]
		if len(run) >= minHex && hexOnly && len(run)%2 == 0 {
			addLayer(t, "hex", Span{i, end}, decodeHex(run), depth, b)
		} else if len(run) >= minBase64 && mixed(kinds) {
			if dec, ok := decodeBase64(run); ok {
				addLayer(t, "base64", Span{i, end}, dec, depth, b)
			}
		}
		floor = end
		p = end + minHex - 1
		if p < end {
			p = end
		}
	}
	runsAround(s, "%", func(start, end int) {
		if isPercentRun(s[start:end]) {
			if dec, ok := decodePercent(s[start:end]); ok {
				addLayer(t, "url", Span{start, end}, dec, depth, b)
			}
		}
	})
	runsAround(s, `\`, func(start, end int) {
		if isEscapeRun(s[start:end]) {
			if dec, ok := decodeBackslash(s[start:end]); ok {
				addLayer(t, "unicode-escape", Span{start, end}, dec, depth, b)
			}
		}
	})
}

// runsAround calls fn once for each maximal run of non-space bytes that
// contains lit, finding runs from the occurrences of lit so that text
// without lit costs one substring scan.
func runsAround(s, lit string, fn func(start, end int)) {
	for from := 0; from < len(s); {
		i := strings.Index(s[from:], lit)
		if i < 0 {
			return
		}
		i += from
		start := i
		for start > from && !isSpace(s[start-1]) {
			start--
		}
		end := i
		for end < len(s) && !isSpace(s[end]) {
			end++
		}
		fn(start, end)
		from = end + 1
	}
}

// mixed reports whether a run uses at least two of upper case, lower case
// and digits: plain words and identifiers do not.
func mixed(kinds uint8) bool {
	n := 0
	for c := uint8(1); c <= 3; c++ {
		if kinds&(1<<c) != 0 {
			n++
		}
	}
	return n >= 2
}

func addLayer(t *Text, enc string, sp Span, dec string, depth int, b *budget) {
	if dec == "" || !readable(dec) {
		return
	}
	if depth+1 > b.opt.MaxDepth {
		b.truncate("max_depth")
		return
	}
	if b.layers >= b.opt.MaxLayers {
		b.truncate("max_layers")
		return
	}
	if b.decoded+len(dec) > b.opt.MaxDecodedBytes {
		b.truncate("max_decoded_bytes")
		return
	}
	b.layers++
	b.decoded += len(dec)
	t.Layers = append(t.Layers, Layer{Encoding: enc, Span: sp, Depth: depth + 1, Text: normalize(dec, depth+1, b)})
}

// readable reports whether decoded bytes look like text someone meant a
// model to read: valid UTF-8, mostly printable, with some letters.
func readable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	var bad, letters, total int
	for _, r := range s {
		total++
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == '\n' || r == '\t' || r == '\r' || unicode.IsPrint(r) || hiddenKind(r) != 0:
		default:
			bad++
		}
	}
	return total >= 4 && bad*20 <= total && letters*3 >= total
}

func decodeHex(s string) string {
	if len(s) > maxRun {
		s = s[:maxRun&^1]
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		out[i] = byte(hexVal(s[2*i])<<4 | hexVal(s[2*i+1]))
	}
	return string(out)
}

func decodeBase64(s string) (string, bool) {
	if len(s) > maxRun {
		s = s[:maxRun&^3]
	}
	raw := strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(raw, "-_") {
		if strings.ContainsAny(raw, "+/") {
			return "", false
		}
		enc = base64.RawURLEncoding
	}
	// Drop a dangling final character so a base64 run glued to one extra
	// letter still decodes.
	if len(raw)%4 == 1 {
		raw = raw[:len(raw)-1]
	}
	out, err := enc.DecodeString(raw)
	if err != nil {
		return "", false
	}
	return string(out), true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '"' || c == '\'' || c == '<' || c == '>'
}

func isPercentRun(s string) bool { return strings.Count(s, "%") >= 2 }

func isEscapeRun(s string) bool { return strings.Count(s, `\u`)+strings.Count(s, `\x`) >= 2 }

// decodePercent decodes %XX escapes (and %uXXXX, which IIS and old
// JavaScript accept), keeping invalid escapes as written.
func decodePercent(s string) (string, bool) {
	if len(s) > maxRun {
		s = s[:maxRun]
	}
	var out strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && hexVal(s[i+1]) >= 0 && hexVal(s[i+2]) >= 0 {
			out.WriteByte(byte(hexVal(s[i+1])<<4 | hexVal(s[i+2])))
			i += 2
			n++
			continue
		}
		if s[i] == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			if r, ok := hex4(s[i+2 : i+6]); ok {
				out.WriteRune(r)
				i += 5
				n++
				continue
			}
		}
		if s[i] == '+' {
			out.WriteByte(' ')
			continue
		}
		out.WriteByte(s[i])
	}
	return out.String(), n >= 2
}

// decodeBackslash decodes \uXXXX, \u{X...} and \xHH escapes.
func decodeBackslash(s string) (string, bool) {
	if len(s) > maxRun {
		s = s[:maxRun]
	}
	var out strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'u':
				if i+5 < len(s) {
					if r, ok := hex4(s[i+2 : i+6]); ok {
						if utf16Surrogate(r) && i+11 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
							if lo, ok := hex4(s[i+8 : i+12]); ok {
								r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
								i += 6
							}
						}
						out.WriteRune(r)
						i += 5
						n++
						continue
					}
				}
			case 'x':
				if i+3 < len(s) && hexVal(s[i+2]) >= 0 && hexVal(s[i+3]) >= 0 {
					out.WriteByte(byte(hexVal(s[i+2])<<4 | hexVal(s[i+3])))
					i += 3
					n++
					continue
				}
			}
		}
		out.WriteByte(s[i])
	}
	return out.String(), n >= 2
}

func utf16Surrogate(r rune) bool { return r >= 0xD800 && r < 0xDC00 }

func hex4(s string) (rune, bool) {
	var v rune
	for i := 0; i < 4; i++ {
		d := hexVal(s[i])
		if d < 0 {
			return 0, false
		}
		v = v<<4 | rune(d)
	}
	return v, true
}
