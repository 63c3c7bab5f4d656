package config

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes and validates a configuration held in data; file names it
// in error messages.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file}
	cfg := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
		return nil, p.errs
	}
	return cfg, nil
}

type parser struct {
	file  string
	errs  Errors
	lines []string // the source, for positions inside multi-line values
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: p.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// rawConfig mirrors Config for decoding; servers is a mapping whose order
// matters, so it is kept as a node.
type rawConfig struct {
	Version *int      `yaml:"version"`
	Gateway Gateway   `yaml:"gateway"`
	Servers yaml.Node `yaml:"servers"`
	Policy  Policy    `yaml:"policy"`
}

func (p *parser) parse(data []byte) *Config {
	if len(bytes.TrimSpace(data)) == 0 {
		p.errorf(nil, "", "the file is empty; a configuration needs at least \"version: %d\"", Version)
		return nil
	}
	p.lines = strings.Split(string(data), "\n")
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		p.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "a configuration file holds one YAML document; found a second one here")
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "expected a mapping of settings at the top level, got %s", kindName(root))
		return nil
	}

	p.checkKnown(root, reflect.TypeFor[rawConfig](), "")
	if len(p.errs) > 0 {
		// Still check the servers, so one run reports every problem.
		if n := valueNode(root, "servers"); n != root {
			p.servers(n)
		}
		return nil
	}
	var raw rawConfig
	if err := root.Decode(&raw); err != nil {
		p.decodeError(err)
		return nil
	}
	cfg := &Config{Version: Version, Gateway: raw.Gateway, Policy: raw.Policy, File: p.file}
	if raw.Version == nil {
		p.errorf(root, "version", "missing; add \"version: %d\" at the top of the file", Version)
	} else if *raw.Version != Version {
		p.errorf(valueNode(root, "version"), "version", "unsupported version %d; this mcpwarden reads version %d", *raw.Version, Version)
	}
	cfg.Servers = p.servers(&raw.Servers)
	if len(p.errs) > 0 {
		return nil
	}
	cfg.ApplyDefaults()
	p.validate(cfg, root)
	return cfg
}

func (p *parser) servers(n *yaml.Node) []Server {
	if n.Kind == 0 {
		return nil // no servers section: valid, the gateway just has nothing to front
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "servers", "expected a mapping of server names to server settings, got %s", kindName(n))
		return nil
	}
	var out []Server
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := "servers." + k.Value
		if v.Kind != yaml.MappingNode {
			p.errorf(v, path, "expected the server's settings as a mapping, got %s", kindName(v))
			continue
		}
		before := len(p.errs)
		p.checkKnown(v, reflect.TypeFor[Server](), path)
		if len(p.errs) > before {
			continue
		}
		var s Server
		if err := v.Decode(&s); err != nil {
			p.decodeError(err)
			continue
		}
		s.Name, s.Line, s.Column = k.Value, k.Line, k.Column
		out = append(out, s)
	}
	return out
}

// checkKnown walks a node against the Go type it will decode into and
// reports unknown keys and wrongly-shaped values with their key path, which
// yaml's own errors lack.
func (p *parser) checkKnown(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		p.errorf(n, path, "YAML aliases are not supported in configuration files")
		return
	}
	if t == reflect.TypeFor[yaml.Node]() || reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return // decoded (and checked) by its own code
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, path, "expected a single value, got %s", kindName(n))
			return
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			p.errorf(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		seen := make(map[string]bool)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if seen[k.Value] {
				p.errorf(k, kp, "duplicate key")
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				p.errorf(k, kp, "unknown key%s", suggest(k.Value, fields))
				continue
			}
			p.checkKnown(v, ft, kp)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		seen := make(map[string]bool)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if seen[k.Value] {
				p.errorf(k, kp, "duplicate key")
				continue
			}
			seen[k.Value] = true
			p.checkKnown(v, t.Elem(), kp)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			p.errorf(n, path, "expected a list, got %s", kindName(n))
			return
		}
		for i, v := range n.Content {
			p.checkKnown(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.errorf(n, path, "expected a string, got %s", kindName(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			p.errorf(n, path, "expected true or false, got %s", describe(n))
		}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			p.errorf(n, path, "expected a whole number, got %s", describe(n))
		}
	case reflect.Float64, reflect.Float32:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			p.errorf(n, path, "expected a number, got %s", describe(n))
		}
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest names the closest known key, for typos like "comand".
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		slices.Sort(names)
		return " (known keys: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return describe(n)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!bool":
		return "the boolean " + n.Value
	case "!!int", "!!float":
		return "the number " + n.Value
	}
	return "the string " + strconv.Quote(n.Value)
}

// valueNode returns the value node of key in mapping m, or m itself.
func valueNode(m *yaml.Node, path ...string) *yaml.Node {
	n := m
	for _, key := range path {
		found := false
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					n, found = n.Content[i+1], true
					break
				}
			}
		}
		if !found {
			return n
		}
	}
	return n
}

// syntaxError turns a YAML parser error ("yaml: line 3: ...") into an
// Error with a position.
func (p *parser) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if l, err := strconv.Atoi(num); err == nil {
				line, msg = l, strings.TrimSpace(tail)
			}
		}
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Column: 1, Msg: "invalid YAML: " + msg})
}

func (p *parser) decodeError(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			p.syntaxError(errors.New("yaml: " + m))
		}
		return
	}
	p.syntaxError(err)
}
