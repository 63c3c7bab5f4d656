package discover

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// maxYAMLNodes bounds alias expansion ("billion laughs").
const maxYAMLNodes = 200000

// parseYAML decodes a YAML document (Continue, Goose) into a node tree.
// Anchors and aliases are followed; merge keys are not interpreted.
func parseYAML(data []byte) (*node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &node{kind: kNull, line: 1}, nil
	}
	budget := maxYAMLNodes
	return fromYAML(doc.Content[0], 0, &budget)
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func yamlError(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &SyntaxError{Line: line, Msg: m[2]}
	}
	return &SyntaxError{Msg: msg}
}

func fromYAML(y *yaml.Node, depth int, budget *int) (*node, error) {
	*budget--
	if *budget < 0 {
		return nil, &SyntaxError{Line: y.Line, Msg: "document too large after alias expansion"}
	}
	if depth > maxDepth {
		return nil, &SyntaxError{Line: y.Line, Msg: fmt.Sprintf("nesting deeper than %d", maxDepth)}
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kNull, line: y.Line}, nil
		}
		return fromYAML(y.Content[0], depth+1, budget)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, &SyntaxError{Line: y.Line, Msg: "unknown alias"}
		}
		n, err := fromYAML(y.Alias, depth+1, budget)
		if err != nil {
			return nil, err
		}
		c := *n
		c.line = y.Line
		return &c, nil
	case yaml.MappingNode:
		n := &node{kind: kObject, line: y.Line}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, &SyntaxError{Line: k.Line, Col: k.Column, Msg: "mapping key is not a scalar"}
			}
			val, err := fromYAML(v, depth+1, budget)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, member{key: k.Value, line: k.Line, value: val})
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kArray, line: y.Line}
		for _, c := range y.Content {
			v, err := fromYAML(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.ScalarNode:
		switch y.ShortTag() {
		case "!!null":
			return &node{kind: kNull, line: y.Line}, nil
		case "!!bool":
			var b bool
			if err := y.Decode(&b); err != nil {
				return nil, &SyntaxError{Line: y.Line, Col: y.Column, Msg: err.Error()}
			}
			return &node{kind: kBool, line: y.Line, text: strconv.FormatBool(b)}, nil
		case "!!int", "!!float":
			return &node{kind: kNumber, line: y.Line, text: y.Value}, nil
		default:
			return &node{kind: kString, line: y.Line, text: y.Value}, nil
		}
	}
	return nil, &SyntaxError{Line: y.Line, Msg: "unsupported YAML node"}
}

// parseTOML decodes a TOML document (Codex) into a node tree. The decoder
// does not expose positions, so lines come from [tomlLines], a scan of the
// file for table headers and key assignments.
func parseTOML(data []byte) (*node, error) {
	var m map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &SyntaxError{Line: pe.Position.Line, Col: pe.Position.Col, Msg: pe.Message}
		}
		return nil, &SyntaxError{Msg: err.Error()}
	}
	lines := tomlLines(data)
	return fromTOML(m, nil, lines, 1), nil
}

func fromTOML(v any, key []string, lines map[string]int, fallback int) *node {
	line := fallback
	if l, ok := lines[strings.Join(key, "\x00")]; ok {
		line = l
	}
	switch v := v.(type) {
	case map[string]any:
		n := &node{kind: kObject, line: line}
		for k, c := range v {
			ck := append(append([]string(nil), key...), k)
			n.members = append(n.members, member{key: k, line: line, value: fromTOML(c, ck, lines, line)})
			n.members[len(n.members)-1].line = n.members[len(n.members)-1].value.line
		}
		sort.SliceStable(n.members, func(i, j int) bool {
			if n.members[i].line != n.members[j].line {
				return n.members[i].line < n.members[j].line
			}
			return n.members[i].key < n.members[j].key
		})
		return n
	case []map[string]any:
		n := &node{kind: kArray, line: line}
		for _, c := range v {
			n.items = append(n.items, fromTOML(c, nil, nil, line))
		}
		return n
	case []any:
		n := &node{kind: kArray, line: line}
		for _, c := range v {
			n.items = append(n.items, fromTOML(c, nil, nil, line))
		}
		return n
	case string:
		return &node{kind: kString, line: line, text: v}
	case bool:
		return &node{kind: kBool, line: line, text: strconv.FormatBool(v)}
	case int64:
		return &node{kind: kNumber, line: line, text: strconv.FormatInt(v, 10)}
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return &node{kind: kString, line: line, text: strconv.FormatFloat(v, 'g', -1, 64)}
		}
		return &node{kind: kNumber, line: line, text: strconv.FormatFloat(v, 'g', -1, 64)}
	case time.Time:
		return &node{kind: kString, line: line, text: v.Format(time.RFC3339Nano)}
	default:
		return &node{kind: kString, line: line, text: fmt.Sprint(v)}
	}
}

// tomlLines maps each key path (joined by NUL) to the line where it is
// first written: a [table] or [[array]] header, or a `key = value` line
// (dotted keys included) inside the current table. Keys of inline tables
// share the line of the assignment. Multi-line strings are skipped.
func tomlLines(data []byte) map[string]int {
	out := make(map[string]int)
	set := func(path []string, line int) {
		for i := 1; i <= len(path); i++ {
			k := strings.Join(path[:i], "\x00")
			if _, ok := out[k]; !ok {
				out[k] = line
			}
		}
	}
	var table []string
	inMulti := "" // the closing delimiter of a multi-line string we are in
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		s := strings.TrimSpace(raw)
		if inMulti != "" {
			if strings.Contains(s, inMulti) {
				inMulti = ""
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			inner := strings.TrimPrefix(s, "[")
			inner = strings.TrimPrefix(inner, "[")
			if end := strings.Index(inner, "]"); end >= 0 {
				table = splitTOMLKey(inner[:end])
				set(table, line)
			}
			continue
		}
		eq := tomlKeyEnd(s)
		if eq < 0 {
			continue
		}
		k := splitTOMLKey(s[:eq])
		path := append(append([]string(nil), table...), k...)
		set(path, line)
		rest := strings.TrimSpace(s[eq+1:])
		for _, d := range []string{`"""`, `'''`} {
			if strings.HasPrefix(rest, d) && !strings.Contains(rest[3:], d) {
				inMulti = d
			}
		}
		if strings.HasPrefix(rest, "{") {
			tomlInline(rest, path, line, set)
		}
	}
	return out
}

// tomlInline records the keys of an inline table on one line.
func tomlInline(s string, path []string, line int, set func([]string, int)) {
	s = strings.TrimPrefix(s, "{")
	for len(s) > 0 {
		eq := tomlKeyEnd(s)
		if eq < 0 {
			return
		}
		k := splitTOMLKey(s[:eq])
		set(append(append([]string(nil), path...), k...), line)
		// Skip to the next top-level comma of this inline table.
		depth, q := 0, byte(0)
		j := eq + 1
		for ; j < len(s); j++ {
			c := s[j]
			switch {
			case q != 0:
				if c == '\\' && q == '"' {
					j++
				} else if c == q {
					q = 0
				}
			case c == '"' || c == '\'':
				q = c
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
			}
			if depth < 0 || (depth == 0 && c == ',' && q == 0) {
				break
			}
		}
		if j >= len(s) || depth < 0 {
			return
		}
		s = s[j+1:]
	}
}

// tomlKeyEnd returns the index of the '=' that ends the key at the start
// of s, skipping quoted key parts, or -1.
func tomlKeyEnd(s string) int {
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && q == '"' {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '=':
			return i
		case c == '#' || c == '[' || c == '{':
			return -1
		}
	}
	return -1
}

// splitTOMLKey splits a dotted key, unquoting quoted parts.
func splitTOMLKey(s string) []string {
	var parts []string
	var cur strings.Builder
	q := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '"':
			if c == '\\' && i+1 < len(s) {
				// Decode the common escapes; keys with exotic escapes just
				// fall back to the table's line.
				i++
				switch s[i] {
				case 'n':
					cur.WriteByte('\n')
				case 't':
					cur.WriteByte('\t')
				default:
					cur.WriteByte(s[i])
				}
			} else if c == '"' {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case q == '\'':
			if c == '\'' {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			q = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}
