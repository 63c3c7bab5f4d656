package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// noDuplicateKeys reports the first object, at any depth, that repeats a
// key: parsers disagree on which of two equal keys wins, and a rule must
// not judge one value while the server acts on the other. Keys are
// compared after unescaping ("a" and "\u0061" are the same key). The input
// must be valid JSON (the gateway checks every message); it scans the
// bytes once and allocates only for escaped keys and deep nesting.
func noDuplicateKeys(raw []byte) error {
	s := dupScanner{b: raw}
	s.ws()
	if err := s.value(0); err != nil {
		return err
	}
	return nil
}

type dupScanner struct {
	b    []byte
	i    int
	keys [][]byte // keys of the objects being scanned, innermost last
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errDupSyntax = errors.New("invalid JSON")

func (s *dupScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *dupScanner) value(depth int) error {
	if depth > maxDepth {
		return errors.New("the arguments nest too deeply")
	}
	if s.i >= len(s.b) {
		return errDupSyntax
	}
	switch s.b[s.i] {
	case '{':
		return s.object(depth)
	case '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			if done, err := s.next(']'); done || err != nil {
				return err
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	}
	// A number or a literal: up to the next delimiter.
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		}
		s.i++
	}
	return nil
}

func (s *dupScanner) object(depth int) error {
	s.i++ // {
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		key, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			var k string
			if err := json.Unmarshal(key, &k); err != nil {
				return errDupSyntax
			}
			key = []byte(k)
		} else {
			key = key[1 : len(key)-1]
		}
		for _, k := range s.keys[base:] {
			if bytes.Equal(k, key) {
				return fmt.Errorf("the key %q appears twice in one object", key)
			}
		}
		s.keys = append(s.keys, key)
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errDupSyntax
		}
		s.i++
		s.ws()
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// next reads the separator after a member: a comma (more to come) or
// the closing bracket (done).
func (s *dupScanner) next(closing byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, errDupSyntax
	}
	c := s.b[s.i]
	s.i++
	switch c {
	case closing:
		return true, nil
	case ',':
		return false, nil
	}
	return false, errDupSyntax
}

// str scans a string and returns it with its quotes, and whether it
// holds escapes.
func (s *dupScanner) str() ([]byte, bool, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, errDupSyntax
	}
	start := s.i
	s.i++
	escaped := false
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			s.i++
			return s.b[start:s.i], escaped, nil
		}
		s.i++
	}
	return nil, false, errDupSyntax
}
