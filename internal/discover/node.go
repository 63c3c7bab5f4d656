package discover

import (
	"fmt"
	"strconv"
)

// kind is the type of a decoded config value.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kObject:
		return "object"
	case kArray:
		return "array"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// node is one value of a config file, whatever its format (JSON, JSONC,
// YAML, TOML), with the 1-based line where it starts. Every format is
// decoded into this one tree so that the per-client shape decoders are
// written once and every declaration can point at its line.
type node struct {
	kind kind
	line int
	// text is the string value, the number as written, or "true"/"false".
	text    string
	members []member // objects, in file order (duplicates kept)
	items   []*node  // arrays
}

// member is one key of an object, with the line of the key.
type member struct {
	key   string
	line  int
	value *node
}

// get returns the value of key, or nil. With duplicate keys the last one
// wins, as in JavaScript's JSON.parse, which is what the clients use.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i].value
		}
	}
	return nil
}

// path follows keys through nested objects.
func (n *node) path(keys ...string) *node {
	for _, k := range keys {
		n = n.get(k)
	}
	return n
}

// entries returns the members of an object with duplicate keys collapsed to
// the last occurrence, in the order of first appearance.
func (n *node) entries() []member {
	if n == nil || n.kind != kObject {
		return nil
	}
	last := make(map[string]int, len(n.members))
	for i, m := range n.members {
		last[m.key] = i
	}
	out := make([]member, 0, len(last))
	seen := make(map[string]bool, len(last))
	for _, m := range n.members {
		if seen[m.key] {
			continue
		}
		seen[m.key] = true
		out = append(out, n.members[last[m.key]])
	}
	return out
}

// scalar renders a string, number or boolean as a string; ok is false for
// null, objects and arrays.
func (n *node) scalar() (string, bool) {
	if n == nil {
		return "", false
	}
	switch n.kind {
	case kString, kNumber, kBool:
		return n.text, true
	}
	return "", false
}

// truthy reports whether n is the boolean true.
func (n *node) truthy() bool { return n != nil && n.kind == kBool && n.text == "true" }

// falsy reports whether n is the boolean false.
func (n *node) falsy() bool { return n != nil && n.kind == kBool && n.text == "false" }

// typeError describes a value of the wrong type at a key path.
func typeError(field string, n *node, want string) error {
	return fmt.Errorf("%s: want %s, got %s", field, want, n.kind)
}
