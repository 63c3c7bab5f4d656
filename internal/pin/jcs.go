package pin

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonicalize returns the RFC 8785 (JSON Canonicalization Scheme) form of
// a JSON text: no whitespace, object keys sorted by their UTF-16 code
// units, numbers in ECMAScript's shortest round-trip form, strings with
// the minimal escapes. The input must be I-JSON: valid UTF-8, no
// duplicate keys, no lone surrogates, numbers that fit a double.
func Canonicalize(data []byte) ([]byte, error) {
	return AppendCanonical(make([]byte, 0, len(data)), data)
}

// AppendCanonical appends the canonical form of data to dst.
func AppendCanonical(dst, data []byte) ([]byte, error) {
	var c canon
	return c.run(dst, data)
}

// run canonicalises data, reusing c's scratch space from earlier runs.
func (c *canon) run(dst, data []byte) ([]byte, error) {
	c.src, c.pos = data, 0
	defer func() { c.src = nil }()
	c.space()
	out, err := c.value(dst, 0)
	if err != nil {
		return dst, err
	}
	c.space()
	if c.pos != len(c.src) {
		return dst, c.errf("unexpected data after the top-level value")
	}
	return out, nil
}

// CanonicalError locates a JCS input error as a byte offset.
type CanonicalError struct {
	Offset int
	Msg    string
}

func (e *CanonicalError) Error() string {
	return fmt.Sprintf("canonical json: offset %d: %s", e.Offset, e.Msg)
}

const canonMaxDepth = 1000

type canon struct {
	src []byte
	pos int
	// scratch holds decoded string values; reorder holds an object's
	// members while they are put in key order. Both are reused.
	scratch []byte
	reorder []byte
	// spans is a stack of object members: each object uses the top of it
	// and pops its members when done.
	spans []span
}

func (c *canon) errf(format string, args ...any) error {
	return &CanonicalError{Offset: c.pos, Msg: fmt.Sprintf(format, args...)}
}

func (c *canon) space() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value(dst []byte, depth int) ([]byte, error) {
	if depth > canonMaxDepth {
		return dst, c.errf("nesting deeper than %d", canonMaxDepth)
	}
	if c.pos >= len(c.src) {
		return dst, c.errf("unexpected end of input")
	}
	switch ch := c.src[c.pos]; {
	case ch == '{':
		return c.object(dst, depth)
	case ch == '[':
		return c.array(dst, depth)
	case ch == '"':
		s, err := c.str(c.scratch[:0])
		if err != nil {
			return dst, err
		}
		c.scratch = s[:0]
		return appendString(dst, s), nil
	case ch == '-' || (ch >= '0' && ch <= '9'):
		return c.number(dst)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(c.src)-c.pos >= len(lit) && string(c.src[c.pos:c.pos+len(lit)]) == lit {
			c.pos += len(lit)
			return append(dst, lit...), nil
		}
	}
	return dst, c.errf("invalid character %q", c.src[c.pos])
}

// span is one member of an object being canonicalised: its decoded key
// and where its canonical "key":value sits in the output.
type span struct {
	key        []byte
	start, end int
}

func (c *canon) object(dst []byte, depth int) ([]byte, error) {
	c.pos++ // {
	dst = append(dst, '{')
	base := len(dst)
	stack := len(c.spans)
	defer func() { c.spans = c.spans[:stack] }()
	c.space()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		return append(dst, '}'), nil
	}
	for {
		c.space()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return dst, c.errf("want a string key")
		}
		key, err := c.key()
		if err != nil {
			return dst, err
		}
		c.space()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return dst, c.errf("want ':'")
		}
		c.pos++
		c.space()
		if len(c.spans) > stack {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = appendString(dst, key)
		dst = append(dst, ':')
		if dst, err = c.value(dst, depth+1); err != nil {
			return dst, err
		}
		c.spans = append(c.spans, span{key: key, start: start, end: len(dst)})
		c.space()
		if c.pos >= len(c.src) {
			return dst, c.errf("unexpected end of input in object")
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != '}' {
			return dst, c.errf("want ',' or '}'")
		}
		c.pos++
		break
	}
	members := c.spans[stack:]
	cmp := func(a, b span) int { return compareUTF16(a.key, b.key) }
	if slices.IsSortedFunc(members, cmp) {
		// Already in order (the common case for canonical input): the
		// output is in place.
		for i := 1; i < len(members); i++ {
			if cmp(members[i-1], members[i]) == 0 {
				return dst, c.errf("duplicate key %q", members[i].key)
			}
		}
		return append(dst, '}'), nil
	}
	slices.SortStableFunc(members, cmp)
	for i := 1; i < len(members); i++ {
		if cmp(members[i-1], members[i]) == 0 {
			return dst, c.errf("duplicate key %q", members[i].key)
		}
	}
	body := append(c.reorder[:0], dst[base:]...)
	c.reorder = body
	dst = dst[:base]
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, body[m.start-base:m.end-base]...)
	}
	return append(dst, '}'), nil
}

// key decodes an object key. A key without escapes or non-ASCII bytes is
// returned as a slice of the input, without copying.
func (c *canon) key() ([]byte, error) {
	for i := c.pos + 1; i < len(c.src); i++ {
		ch := c.src[i]
		if ch == '"' {
			k := c.src[c.pos+1 : i]
			c.pos = i + 1
			return k, nil
		}
		if ch == '\\' || ch < 0x20 || ch >= utf8.RuneSelf {
			break
		}
	}
	return c.str(nil)
}

func (c *canon) array(dst []byte, depth int) ([]byte, error) {
	c.pos++ // [
	dst = append(dst, '[')
	c.space()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		c.space()
		var err error
		if dst, err = c.value(dst, depth+1); err != nil {
			return dst, err
		}
		c.space()
		if c.pos >= len(c.src) {
			return dst, c.errf("unexpected end of input in array")
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != ']' {
			return dst, c.errf("want ',' or ']'")
		}
		c.pos++
		return append(dst, ']'), nil
	}
}

// str decodes a JSON string at pos into buf.
func (c *canon) str(buf []byte) ([]byte, error) {
	c.pos++ // opening quote
	for {
		if c.pos >= len(c.src) {
			return nil, c.errf("unterminated string")
		}
		ch := c.src[c.pos]
		switch {
		case ch == '"':
			c.pos++
			return buf, nil
		case ch == '\\':
			if c.pos+1 >= len(c.src) {
				return nil, c.errf("unterminated string")
			}
			e := c.src[c.pos+1]
			c.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, err := c.hex4()
				if err != nil {
					return nil, err
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || c.pos+6 > len(c.src) || c.src[c.pos] != '\\' || c.src[c.pos+1] != 'u' {
						return nil, c.errf("lone surrogate \\u%04x", r)
					}
					c.pos += 2
					r2, err := c.hex4()
					if err != nil {
						return nil, err
					}
					if r2 < 0xDC00 || r2 > 0xDFFF {
						return nil, c.errf("lone surrogate \\u%04x", r)
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, c.errf("invalid escape")
			}
		case ch < 0x20:
			return nil, c.errf("control character in string")
		case ch < utf8.RuneSelf:
			buf = append(buf, ch)
			c.pos++
		default:
			r, n := utf8.DecodeRune(c.src[c.pos:])
			if r == utf8.RuneError && n <= 1 {
				return nil, c.errf("invalid UTF-8")
			}
			buf = append(buf, c.src[c.pos:c.pos+n]...)
			c.pos += n
		}
	}
}

func (c *canon) hex4() (rune, error) {
	if c.pos+4 > len(c.src) {
		return 0, c.errf("short \\u escape")
	}
	var r rune
	for _, h := range c.src[c.pos : c.pos+4] {
		r <<= 4
		switch {
		case h >= '0' && h <= '9':
			r |= rune(h - '0')
		case h|0x20 >= 'a' && h|0x20 <= 'f':
			r |= rune(h|0x20-'a') + 10
		default:
			return 0, c.errf("invalid \\u escape")
		}
	}
	c.pos += 4
	return r, nil
}

func (c *canon) number(dst []byte) ([]byte, error) {
	start := c.pos
	simple := true // an integer of at most 15 digits is its own canonical form
	if c.src[c.pos] == '-' {
		c.pos++
	}
	digits := c.pos
	if c.pos < len(c.src) && c.src[c.pos] == '0' {
		c.pos++
	} else if !c.digits() {
		return dst, c.errf("invalid number")
	}
	if c.pos-digits > 15 {
		simple = false
	}
	if c.pos < len(c.src) && c.src[c.pos] == '.' {
		c.pos++
		simple = false
		if !c.digits() {
			return dst, c.errf("invalid number")
		}
	}
	if c.pos < len(c.src) && c.src[c.pos]|0x20 == 'e' {
		c.pos++
		simple = false
		if c.pos < len(c.src) && (c.src[c.pos] == '+' || c.src[c.pos] == '-') {
			c.pos++
		}
		if !c.digits() {
			return dst, c.errf("invalid number")
		}
	}
	lit := c.src[start:c.pos]
	if simple {
		if string(lit) == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return dst, c.errf("number %s does not fit a double", lit)
	}
	return AppendNumber(dst, f)
}

func (c *canon) digits() bool {
	s := c.pos
	for c.pos < len(c.src) && c.src[c.pos] >= '0' && c.src[c.pos] <= '9' {
		c.pos++
	}
	return c.pos > s
}

// ErrNonFinite is returned for NaN and ±Inf, which JSON cannot express.
var ErrNonFinite = errors.New("canonical json: NaN and Infinity are not JSON numbers")

// AppendNumber appends f as ECMAScript's Number.prototype.toString does
// (RFC 8785 section 3.2.2.3).
func AppendNumber(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, ErrNonFinite
	}
	if f == 0 {
		return append(dst, '0'), nil
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-trip digits: "d.ddde±x".
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	mant, exp := e, 0
	for i, ch := range e {
		if ch == 'e' {
			mant = e[:i]
			x, _ := strconv.Atoi(string(e[i+1:]))
			exp = x
			break
		}
	}
	var digits [24]byte
	k := 0
	for _, ch := range mant {
		if ch != '.' {
			digits[k] = ch
			k++
		}
	}
	n := exp + 1 // the decimal point sits after n digits
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits[:k]...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:k]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits[:k]...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:k]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s (valid UTF-8) as a JCS string.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x20 && ch != '"' && ch != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch ch {
		case '"', '\\':
			dst = append(dst, '\\', ch)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[ch>>4], hexDigits[ch&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// compareUTF16 orders two UTF-8 strings by their UTF-16 code units, as
// RFC 8785 requires for object keys.
func compareUTF16(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb {
			ua, ub := unit1(ra), unit1(rb)
			if ua != ub {
				return int(ua) - int(ub)
			}
			return int(unit2(ra)) - int(unit2(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func unit1(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xD800 + ((r - 0x10000) >> 10)
}

func unit2(r rune) rune {
	if r < 0x10000 {
		return 0
	}
	return 0xDC00 + ((r - 0x10000) & 0x3FF)
}
