package pin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Hasher computes definition digests, reusing its buffer between calls.
// The zero value is ready; a Hasher is not safe for concurrent use.
type Hasher struct {
	buf []byte
	c   canon
}

// Sum returns the hex SHA-256 of the canonical form of a JSON value. The
// canonical bytes stay valid until the next call.
func (h *Hasher) Sum(raw []byte) (digest string, canonical []byte, err error) {
	h.buf, err = h.c.run(h.buf[:0], raw)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(h.buf)
	return hex.EncodeToString(sum[:]), h.buf, nil
}

// Hash returns the hex SHA-256 of the canonical form of a JSON value.
func Hash(raw []byte) (string, error) {
	var h Hasher
	d, _, err := h.Sum(raw)
	return d, err
}

// Raw turns a definition in any JSON-marshalable form (a decoded map, an
// SDK struct) into JSON; json.RawMessage and []byte pass through.
func Raw(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("pin: encode definition: %w", err)
	}
	return b, nil
}

// Snapshot is what a server currently offers, as listed.
type Snapshot struct {
	// Name is the name the server is declared under, for display.
	Name     string
	Identity Identity
	// Instructions from the initialize result; "" for none.
	Instructions      string
	Tools             []json.RawMessage // tools/list entries
	Prompts           []json.RawMessage // prompts/list entries
	ResourceTemplates []json.RawMessage // resources/templates/list entries
}

// Pin hashes a snapshot into the lock entry it would have.
func Pin(s Snapshot) (*ServerLock, error) {
	if s.Identity.Key == "" {
		return nil, errors.New("pin: snapshot has no server identity")
	}
	sl := &ServerLock{
		Key: s.Identity.Key, Name: s.Name, Identity: s.Identity.ID, Pinned: s.Identity.Pinned,
		Tools: map[string]Entry{}, Prompts: map[string]Entry{}, ResourceTemplates: map[string]Entry{},
	}
	var h Hasher
	if s.Instructions != "" {
		raw, _ := json.Marshal(s.Instructions)
		e, err := newEntry(&h, raw)
		if err != nil {
			return nil, fmt.Errorf("pin: instructions: %w", err)
		}
		sl.Instructions = &e
	}
	groups := []struct {
		kind  ItemKind
		field string
		defs  []json.RawMessage
		into  map[string]Entry
	}{
		{KindTool, "name", s.Tools, sl.Tools},
		{KindPrompt, "name", s.Prompts, sl.Prompts},
		{KindResourceTemplate, "uriTemplate", s.ResourceTemplates, sl.ResourceTemplates},
	}
	for _, g := range groups {
		for i, raw := range g.defs {
			e, err := newEntry(&h, raw)
			if err != nil {
				return nil, fmt.Errorf("pin: %s %d: %w", g.kind, i, err)
			}
			id, ok := topLevelString(e.Definition, g.field)
			if !ok {
				return nil, fmt.Errorf("pin: %s %d: want a JSON object with a %q string", g.kind, i, g.field)
			}
			if _, dup := g.into[id]; dup {
				return nil, fmt.Errorf("pin: %s %q listed twice", g.kind, id)
			}
			g.into[id] = e
		}
	}
	return sl, nil
}

func newEntry(h *Hasher, raw []byte) (Entry, error) {
	d, canon, err := h.Sum(raw)
	if err != nil {
		return Entry{}, err
	}
	return Entry{SHA256: d, Definition: append(json.RawMessage(nil), canon...)}, nil
}

// topLevelString reads a top-level string member of a canonical JSON
// object without decoding the rest: canonical form has no whitespace, so
// a scan that skips nested values and strings is enough.
func topLevelString(canon []byte, key string) (string, bool) {
	if len(canon) < 2 || canon[0] != '{' {
		return "", false
	}
	depth := 0
	for i := 1; i < len(canon); i++ {
		switch c := canon[i]; {
		case c == '"':
			end := stringEnd(canon, i)
			if end < 0 {
				return "", false
			}
			// A key at depth 0 is followed by ':'.
			if depth == 0 && end+1 < len(canon) && canon[end+1] == ':' {
				var k string
				if json.Unmarshal(canon[i:end+1], &k) == nil && k == key && end+2 < len(canon) && canon[end+2] == '"' {
					vend := stringEnd(canon, end+2)
					var v string
					if vend > 0 && json.Unmarshal(canon[end+2:vend+1], &v) == nil && v != "" {
						return v, true
					}
					return "", false
				}
			}
			i = end
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return "", false
}

// stringEnd returns the index of the quote closing the string at start.
func stringEnd(b []byte, start int) int {
	for j := start + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
}
