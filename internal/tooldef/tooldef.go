// Package tooldef reads MCP tool definitions: one tool object, or a
// definitions file holding many (a tools/list result `{"tools":[...]}`, a
// JSON array of tools, or JSONL with one tool per line). It decodes each
// tool once into [Tool], whose [Tool.Params] walks the input schema with
// the field paths findings use ("inputSchema.properties.path").
//
// Definitions come from the party under review, so decoding is bounded
// (nesting depth, file size) and a definition that cannot be read is an
// error, never an empty tool.
//
//	defs, err := tooldef.ParseFile(data)
//	for _, raw := range defs {
//		t, err := tooldef.Decode(raw)
//		for _, p := range t.Params() { ... }
//	}
package tooldef

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxFileSize bounds a definitions file: 10,000 large tools fit easily.
const MaxFileSize = 256 << 20

// maxDepth bounds schema nesting walked by [Tool.Params] and accepted by
// [Decode].
const maxDepth = 64

// Tool is one decoded tool definition.
type Tool struct {
	Name        string
	Title       string
	Description string
	// InputSchema is the decoded input schema; nil when absent or not an
	// object.
	InputSchema map[string]any
	// HasInputSchema reports whether the definition has an inputSchema
	// member at all.
	HasInputSchema bool
	Annotations    map[string]any
	// Raw is the definition as received, for hashing and the detection
	// engine.
	Raw json.RawMessage
}

// Decode decodes one tool definition. It must be a JSON object with a
// non-empty string name.
func Decode(raw json.RawMessage) (Tool, error) {
	if err := checkDepth(raw); err != nil {
		return Tool{}, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Tool{}, fmt.Errorf("tool definition: %w", err)
	}
	if obj == nil {
		return Tool{}, errors.New("tool definition: want a JSON object, got null")
	}
	t := Tool{Raw: raw}
	if err := str(obj, "name", &t.Name); err != nil {
		return Tool{}, err
	}
	if t.Name == "" {
		return Tool{}, errors.New("tool definition: no name")
	}
	if err := str(obj, "title", &t.Title); err != nil {
		return t, err
	}
	if err := str(obj, "description", &t.Description); err != nil {
		return t, err
	}
	if s, ok := obj["inputSchema"]; ok {
		t.HasInputSchema = true
		var v any
		if err := json.Unmarshal(s, &v); err != nil {
			return t, fmt.Errorf("tool %q: inputSchema: %w", t.Name, err)
		}
		t.InputSchema, _ = v.(map[string]any)
	}
	if a, ok := obj["annotations"]; ok {
		var v any
		if err := json.Unmarshal(a, &v); err != nil {
			return t, fmt.Errorf("tool %q: annotations: %w", t.Name, err)
		}
		t.Annotations, _ = v.(map[string]any)
	}
	return t, nil
}

func str(obj map[string]json.RawMessage, key string, out *string) error {
	v, ok := obj[key]
	if !ok || string(v) == "null" {
		return nil
	}
	if err := json.Unmarshal(v, out); err != nil {
		return fmt.Errorf("tool definition: %s: want a string", key)
	}
	return nil
}

// checkDepth rejects JSON nested deeper than maxDepth without decoding
// it, so a hostile schema cannot exhaust the stack of later walks.
func checkDepth(raw []byte) error {
	depth, inStr, esc := 0, false, false
	for _, c := range raw {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("tool definition: nested deeper than %d levels", maxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// Annotation returns a boolean annotation hint and whether it is set.
func (t *Tool) Annotation(name string) (value, set bool) {
	v, ok := t.Annotations[name].(bool)
	return v, ok
}

// Param is one property of the input schema, top-level or nested.
type Param struct {
	Name string
	// Path is the field path of the property: "inputSchema.properties.path",
	// "inputSchema.properties.opts.properties.depth",
	// "inputSchema.properties.files.items".
	Path        string
	Schema      map[string]any
	Types       []string // "string", "number", ...; empty when untyped
	Description string
	Required    bool
	// Depth is 0 for top-level properties.
	Depth int
}

// IsString reports whether the parameter accepts strings: typed string,
// or untyped (which accepts anything).
func (p *Param) IsString() bool {
	if len(p.Types) == 0 {
		return true
	}
	for _, t := range p.Types {
		if t == "string" {
			return true
		}
	}
	return false
}

// Has reports whether the parameter's schema sets keyword k.
func (p *Param) Has(k string) bool {
	_, ok := p.Schema[k]
	return ok
}

// TopLevel returns the names of the input schema's top-level properties
// in the order the definition lists them, so an inventory can show a
// signature like send_email(to, subject, body).
func (t *Tool) TopLevel() []string {
	props, _ := t.InputSchema["properties"].(map[string]any)
	if len(props) == 0 {
		if t.InputSchema != nil {
			return []string{} // takes no arguments: tool()
		}
		return nil
	}
	if names := propertyOrder(t.Raw); len(names) == len(props) {
		return names
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// propertyOrder reads the keys of inputSchema.properties in document
// order; nil when the raw JSON does not have that shape.
func propertyOrder(raw []byte) []string {
	d := json.NewDecoder(bytes.NewReader(raw))
	if !enter(d, "inputSchema") || !enter(d, "properties") {
		return nil
	}
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil
		}
		name, _ := k.(string)
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// enter advances d into the object value of key in the current object.
func enter(d *json.Decoder, key string) bool {
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return false
		}
		if k == key {
			return true
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// Params lists the schema's properties depth first, sorted by name at
// each level; array items of object type contribute their properties.
func (t *Tool) Params() []Param {
	var out []Param
	walk(t.InputSchema, "inputSchema", 0, &out)
	return out
}

func walk(schema map[string]any, base string, depth int, out *[]Param) {
	if schema == nil || depth > maxDepth {
		return
	}
	props, _ := schema["properties"].(map[string]any)
	req := map[string]bool{}
	if r, ok := schema["required"].([]any); ok {
		for _, n := range r {
			if s, ok := n.(string); ok {
				req[s] = true
			}
		}
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ps, _ := props[n].(map[string]any)
		p := Param{Name: n, Path: base + ".properties." + n, Schema: ps, Required: req[n], Depth: depth, Types: types(ps)}
		p.Description, _ = ps["description"].(string)
		*out = append(*out, p)
		walk(ps, p.Path, depth+1, out)
		if items, ok := ps["items"].(map[string]any); ok {
			if _, nested := items["properties"]; nested {
				walk(items, p.Path+".items", depth+1, out)
			}
		}
	}
}

func types(s map[string]any) []string {
	switch v := s["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if t, ok := x.(string); ok {
				out = append(out, t)
			}
		}
		return out
	}
	return nil
}

// ItemSchema returns the schema of an array parameter's items, for
// checks that apply to each element (a list of paths, of URLs).
func (p *Param) ItemSchema() (map[string]any, bool) {
	for _, t := range p.Types {
		if t == "array" {
			items, ok := p.Schema["items"].(map[string]any)
			return items, ok
		}
	}
	return nil, false
}

// ParseFile splits a definitions file into tool definitions. It accepts a
// tools/list result (`{"tools":[...]}`, with or without a JSON-RPC
// envelope `{"result":{"tools":[...]}}`), a JSON array of tools, or JSONL
// with one tool per line (blank lines and a UTF-8 BOM are ignored).
func ParseFile(data []byte) ([]json.RawMessage, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("definitions file larger than %d MiB", MaxFileSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("definitions file is empty")
	}
	switch trimmed[0] {
	case '[':
		return parseArray(trimmed)
	case '{':
		if defs, err := parseObject(trimmed); err == nil || !isMultiDoc(err) {
			return defs, err
		}
		return parseLines(data)
	}
	return nil, fmt.Errorf("definitions file: want a JSON object, array or JSON lines, starting with %q", clip(string(trimmed), 20))
}

type multiDoc struct{ error }

func isMultiDoc(err error) bool {
	var m multiDoc
	return errors.As(err, &m)
}

func parseArray(data []byte) ([]json.RawMessage, error) {
	var defs []json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&defs); err != nil {
		return nil, fmt.Errorf("definitions file: %w", err)
	}
	if d.More() {
		return nil, errors.New("definitions file: data after the array")
	}
	return checkObjects(defs, "item")
}

// parseObject reads a single object: a tools/list result or envelope. A
// file of several objects is JSONL.
func parseObject(data []byte) ([]json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := d.Decode(&obj); err != nil {
		return nil, fmt.Errorf("definitions file: %w", err)
	}
	if _, err := d.Token(); err == nil {
		return nil, multiDoc{errors.New("several JSON documents")}
	}
	if r, ok := obj["result"]; ok {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(r, &inner); err == nil && inner["tools"] != nil {
			obj = inner
		}
	}
	tools, ok := obj["tools"]
	if !ok {
		if _, named := obj["name"]; named {
			// One tool on its own: a JSONL file of one line.
			return checkObjects([]json.RawMessage{json.RawMessage(data)}, "line")
		}
		return nil, errors.New(`definitions file: an object without "tools" (want a tools/list result, an array of tools or JSON lines)`)
	}
	var defs []json.RawMessage
	if err := json.Unmarshal(tools, &defs); err != nil {
		return nil, fmt.Errorf("definitions file: tools: %w", err)
	}
	return checkObjects(defs, "tools item")
}

func parseLines(data []byte) ([]json.RawMessage, error) {
	var defs []json.RawMessage
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, fmt.Errorf("definitions file: line %d: not a JSON value", i+1)
		}
		defs = append(defs, json.RawMessage(line))
	}
	return checkObjects(defs, "line")
}

func checkObjects(defs []json.RawMessage, what string) ([]json.RawMessage, error) {
	for i, d := range defs {
		t := bytes.TrimSpace(d)
		if len(t) == 0 || t[0] != '{' {
			return nil, fmt.Errorf("definitions file: %s %d: want a tool object", what, i+1)
		}
		defs[i] = t
	}
	return defs, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
