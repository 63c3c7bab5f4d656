package discover

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so that a hostile file cannot exhaust the stack.
const maxDepth = 512

// SyntaxError is a malformed JSON, JSONC, YAML or TOML file, located at a
// 1-based line and column (0 when the decoder does not say).
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("line %d col %d: %s", e.Line, e.Col, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// parseJSONC parses JSON with the extensions the editors accept in their
// settings files (VS Code, Cursor, Zed, OpenCode, Gemini CLI): // and /* */
// comments and trailing commas. Plain JSON is a subset, so every client's
// JSON goes through here and gets line numbers. A leading UTF-8 byte order
// mark is skipped. Duplicate keys are kept; [node.get] takes the last.
func parseJSONC(data []byte) (*node, error) {
	p := &jsoncParser{src: data, line: 1}
	if strings.HasPrefix(string(data), "\uFEFF") {
		p.pos = 3
		p.lineStart = 3
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.pos >= len(p.src) {
		return nil, p.errf("empty document")
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %s after the top-level value", p.describe())
	}
	return n, nil
}

type jsoncParser struct {
	src       []byte
	pos       int
	line      int
	lineStart int // offset of the first byte of the current line
}

func (p *jsoncParser) errf(format string, args ...any) error {
	col := utf8.RuneCount(p.src[p.lineStart:min(p.pos, len(p.src))]) + 1
	return &SyntaxError{Line: p.line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *jsoncParser) describe() string {
	if p.pos >= len(p.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.src[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *jsoncParser) newline() {
	p.line++
	p.lineStart = p.pos + 1
}

// space skips whitespace and comments.
func (p *jsoncParser) space() error {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; c {
		case '\n':
			p.newline()
			p.pos++
		case ' ', '\t', '\r':
			p.pos++
		case '/':
			if p.pos+1 >= len(p.src) {
				return p.errf("unexpected '/'")
			}
			switch p.src[p.pos+1] {
			case '/':
				for p.pos < len(p.src) && p.src[p.pos] != '\n' {
					p.pos++
				}
			case '*':
				startLine, startCol := p.line, p.pos-p.lineStart+1
				p.pos += 2
				closed := false
				for p.pos < len(p.src) {
					if p.src[p.pos] == '*' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/' {
						p.pos += 2
						closed = true
						break
					}
					if p.src[p.pos] == '\n' {
						p.newline()
					}
					p.pos++
				}
				if !closed {
					return &SyntaxError{Line: startLine, Col: startCol, Msg: "unterminated /* comment"}
				}
			default:
				return p.errf("unexpected '/'")
			}
		default:
			return nil
		}
	}
	return nil
}

func (p *jsoncParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf("nesting deeper than %d", maxDepth)
	}
	if p.pos >= len(p.src) {
		return nil, p.errf("unexpected end of file, want a value")
	}
	line := p.line
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, line: line, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(string(p.src[p.pos:min(len(p.src), p.pos+5)]), lit) {
				end := p.pos + len(lit)
				if end < len(p.src) && isIdentByte(p.src[end]) {
					break
				}
				p.pos = end
				if lit == "null" {
					return &node{kind: kNull, line: line}, nil
				}
				return &node{kind: kBool, line: line, text: lit}, nil
			}
		}
	}
	return nil, p.errf("unexpected %s, want a value", p.describe())
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func (p *jsoncParser) object(depth int) (*node, error) {
	n := &node{kind: kObject, line: p.line}
	p.pos++ // {
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errf("unexpected end of file in object starting on line %d", n.line)
		}
		if p.src[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		if p.src[p.pos] != '"' {
			return nil, p.errf("unexpected %s, want a quoted key or '}'", p.describe())
		}
		keyLine := p.line
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errf("unexpected %s after key %q, want ':'", p.describe(), key)
		}
		p.pos++
		if err := p.space(); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, line: keyLine, value: v})
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errf("unexpected end of file in object starting on line %d", n.line)
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++ // a trailing comma is allowed: the loop accepts '}' next
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("unexpected %s after value of %q, want ',' or '}'", p.describe(), key)
		}
	}
}

func (p *jsoncParser) array(depth int) (*node, error) {
	n := &node{kind: kArray, line: p.line}
	p.pos++ // [
	for {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errf("unexpected end of file in array starting on line %d", n.line)
		}
		if p.src[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errf("unexpected end of file in array starting on line %d", n.line)
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("unexpected %s in array, want ',' or ']'", p.describe())
		}
	}
}

// number accepts exactly the JSON number grammar and keeps the literal.
func (p *jsoncParser) number() (*node, error) {
	start := p.pos
	digits := func() int {
		s := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		return p.pos - s
	}
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, p.errf("invalid number")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errf("invalid number: want digits after '.'")
		}
	}
	if p.pos < len(p.src) && p.src[p.pos]|0x20 == 'e' {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errf("invalid number: want digits in exponent")
		}
	}
	if p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
		return nil, p.errf("invalid number")
	}
	return &node{kind: kNumber, line: p.line, text: string(p.src[start:p.pos])}, nil
}

// str parses a JSON string. Raw newlines and control characters are errors,
// as in JSON; invalid UTF-8 and lone surrogates become U+FFFD, as
// encoding/json does.
func (p *jsoncParser) str() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return "", p.errf("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return "", p.errf("unterminated string")
			}
			e := p.src[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A valid pair decodes to one rune; anything else is
					// U+FFFD and the next escape is read again on its own,
					// as encoding/json does.
					save, paired := p.pos, false
					if p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
						p.pos += 2
						if r2, ok := p.hex4(); ok {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								r, paired = d, true
							}
						}
					}
					if !paired {
						p.pos = save
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				p.pos--
				return "", p.errf("invalid escape '\\%c'", e)
			}
		case c < 0x20:
			if c == '\n' {
				return "", p.errf("newline in string")
			}
			return "", p.errf("control character %#02x in string", c)
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			b.WriteRune(r) // RuneError for invalid bytes
			p.pos += size
		}
	}
}

func (p *jsoncParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+4]), 16, 32)
	if err != nil || strings.ContainsAny(string(p.src[p.pos:p.pos+4]), "+-") {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}
