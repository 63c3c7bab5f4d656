// Package mcptext finds the text a model reads inside MCP JSON: every
// string value of a tool definition, prompt, resource or result, with a
// path naming where it sits ("inputSchema.properties.path.description",
// "content[0].text"). It can also rewrite those strings in place, keeping
// the JSON's key order, numbers and everything else byte for byte
// equivalent.
//
// Strings that are machine vocabulary rather than prose (JSON Schema
// "type", "format", "$ref", "pattern", MIME types, base64 blobs, the
// names in "required") are skipped.
package mcptext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Field is one string value and its path.
type Field struct {
	Path string
	Text string
}

// Limits bound the walk. Zero values pick the defaults.
type Limits struct {
	MaxDepth  int // nesting depth (default 64)
	MaxFields int // string values collected (default 10000)
}

// ErrTooDeep and ErrTooMany report a JSON document beyond [Limits]; the
// caller must treat the content as unscannable, never as clean.
var (
	ErrTooDeep = errors.New("json nesting exceeds the depth limit")
	ErrTooMany = errors.New("json holds more strings than the field limit")
)

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxFields <= 0 {
		l.MaxFields = 10000
	}
	return l
}

// skipKeys hold strings that are vocabulary, not text for the model.
var skipKeys = map[string]bool{
	"type": true, "$schema": true, "$ref": true, "$id": true, "$anchor": true, "$dynamicRef": true,
	"format": true, "pattern": true, "mimeType": true, "contentEncoding": true, "contentMediaType": true,
	"required": true, "blob": true, "role": true, "jsonrpc": true, "protocolVersion": true,
}

// Fields returns every text field of the JSON document raw, prefixed by
// prefix ("" for none).
func Fields(raw []byte, prefix string, lim Limits) ([]Field, error) {
	var out []Field
	_, err := walk(raw, prefix, lim, func(path, s string) (string, bool) {
		out = append(out, Field{Path: path, Text: s})
		return "", false
	}, false)
	return out, err
}

// Rewrite returns raw with each text field replaced by fn's result. fn
// returns the new text and true, or false to keep the field as is. If
// fn changes nothing, Rewrite returns raw itself.
func Rewrite(raw []byte, lim Limits, fn func(path, s string) (string, bool)) ([]byte, error) {
	out, err := walk(raw, "", lim, fn, true)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return raw, nil
	}
	return out, nil
}

type frame struct {
	array  bool
	index  int
	key    string
	hasKey bool   // key holds the current member's name (which may be "")
	path   string // path of this container
}

// walk streams raw's tokens. With emit set it re-encodes the document and
// returns it if any string changed (nil otherwise).
func walk(raw []byte, prefix string, lim Limits, fn func(path, s string) (string, bool), emit bool) ([]byte, error) {
	lim = lim.withDefaults()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	changed := false
	var stack []frame
	fields := 0
	needComma := false
	skipDepth := -1 // inside a skipped key's value (e.g. "required": [...])
	top := 0        // top-level values read

	writeSep := func() {
		if emit && needComma {
			buf.WriteByte(',')
		}
	}
	// valuePath names the value about to be read in the top frame.
	valuePath := func() string {
		if len(stack) == 0 {
			return prefix
		}
		f := &stack[len(stack)-1]
		if f.array {
			return f.path + "[" + strconv.Itoa(f.index) + "]"
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	afterValue := func() {
		needComma = true
		if len(stack) == 0 {
			top++
		}
		if len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.array {
				f.index++
			} else {
				f.key, f.hasKey = "", false
			}
		}
	}
	expectKey := func() bool {
		return len(stack) > 0 && !stack[len(stack)-1].array && !stack[len(stack)-1].hasKey
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err == nil && len(stack) == 0 && top > 0 {
			return nil, errors.New("reading json: trailing data after the document")
		}
		if err != nil {
			return nil, fmt.Errorf("reading json: %w", err)
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= lim.MaxDepth {
					return nil, ErrTooDeep
				}
				writeSep()
				p := valuePath()
				if skipDepth < 0 && len(stack) > 0 && !stack[len(stack)-1].array && skipKeys[stack[len(stack)-1].key] {
					skipDepth = len(stack)
				}
				stack = append(stack, frame{array: v == '[', path: p})
				if emit {
					buf.WriteByte(byte(v))
				}
				needComma = false
			case '}', ']':
				stack = stack[:len(stack)-1]
				if skipDepth == len(stack) {
					skipDepth = -1
				}
				if emit {
					buf.WriteByte(byte(v))
				}
				afterValue()
			}
		case string:
			if expectKey() {
				writeSep()
				stack[len(stack)-1].key, stack[len(stack)-1].hasKey = v, true
				if emit {
					writeString(&buf, v)
					buf.WriteByte(':')
				}
				needComma = false
				continue
			}
			writeSep()
			out := v
			key := ""
			if len(stack) > 0 && !stack[len(stack)-1].array {
				key = stack[len(stack)-1].key
			}
			if skipDepth < 0 && !skipKeys[key] && v != "" {
				fields++
				if fields > lim.MaxFields {
					return nil, ErrTooMany
				}
				if s, ok := fn(valuePath(), v); ok && s != v {
					out, changed = s, true
				}
			}
			if emit {
				writeString(&buf, out)
			}
			afterValue()
		default:
			writeSep()
			if emit {
				switch x := v.(type) {
				case json.Number:
					buf.WriteString(x.String())
				case bool:
					buf.WriteString(strconv.FormatBool(x))
				case nil:
					buf.WriteString("null")
				}
			}
			afterValue()
		}
	}
	if len(stack) != 0 || top == 0 {
		return nil, errors.New("reading json: unexpected end")
	}
	if !emit || !changed {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// writeString writes s as a JSON string without HTML escaping, so text
// that was not rewritten keeps its bytes.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // never fails for a string
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// Decode parses raw for [FieldsOf]: a JSON document decoded into maps,
// slices and scalars. It rejects trailing data.
func Decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("reading json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("reading json: trailing data after the document")
	}
	return v, nil
}

// FieldsOf is [Fields] over an already decoded document. Object keys are
// visited in sorted order, so the result is deterministic.
func FieldsOf(v any, prefix string, lim Limits) ([]Field, error) {
	lim = lim.withDefaults()
	var out []Field
	err := fieldsOf(v, prefix, "", 0, lim, &out)
	return out, err
}

func fieldsOf(v any, path, key string, depth int, lim Limits, out *[]Field) error {
	switch x := v.(type) {
	case string:
		if x == "" || skipKeys[key] {
			return nil
		}
		if len(*out) >= lim.MaxFields {
			return ErrTooMany
		}
		*out = append(*out, Field{Path: path, Text: x})
	case map[string]any:
		if depth >= lim.MaxDepth {
			return ErrTooDeep
		}
		if skipKeys[key] {
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if err := fieldsOf(x[k], p, k, depth+1, lim, out); err != nil {
				return err
			}
		}
	case []any:
		if depth >= lim.MaxDepth {
			return ErrTooDeep
		}
		if skipKeys[key] {
			return nil
		}
		for i, e := range x {
			if err := fieldsOf(e, path+"["+strconv.Itoa(i)+"]", key, depth+1, lim, out); err != nil {
				return err
			}
		}
	}
	return nil
}
