// Package toolmatch matches "server/tool" patterns, the way policy
// sections name the tools a setting applies to:
//
//	p, err := toolmatch.Parse("github/create_*")
//	p.Match("github", "create_issue") // true
//
// A pattern is SERVER/NAME where each side is matched on its own, with *
// standing for any run of characters (including none) and every other
// character literal. A pattern without "/" is SERVER/* ("github" is every
// tool of github); "*" alone is every tool of every server. Tool names may
// contain "/" only on the NAME side: the first "/" splits.
package toolmatch

import (
	"errors"
	"fmt"
	"strings"
)

// Pattern is a parsed "server/tool" pattern. The zero value matches
// nothing.
type Pattern struct {
	server, name string
	valid        bool
}

// Parse parses a pattern.
func Parse(s string) (Pattern, error) {
	if strings.TrimSpace(s) == "" {
		return Pattern{}, errors.New("empty tool pattern; write SERVER/TOOL, with * for any run of characters")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return Pattern{}, fmt.Errorf("tool pattern %q contains white space", s)
	}
	server, name, ok := strings.Cut(s, "/")
	if !ok {
		name = "*"
	}
	if server == "" || name == "" {
		return Pattern{}, fmt.Errorf("tool pattern %q: want SERVER/TOOL with both sides non-empty", s)
	}
	return Pattern{server: server, name: name, valid: true}, nil
}

// MustParse is Parse for patterns known to be valid; it panics otherwise.
func MustParse(s string) Pattern {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern as written (normalized to SERVER/NAME).
func (p Pattern) String() string { return p.server + "/" + p.name }

// Match reports whether the tool name on server matches.
func (p Pattern) Match(server, name string) bool {
	return p.valid && glob(p.server, server) && glob(p.name, name)
}

// glob matches s against a pattern where * is any run of characters. It
// runs in O(len(p)·len(s)) at worst: the classic greedy algorithm with one
// backtrack point.
func glob(p, s string) bool {
	px, sx := 0, 0
	star, mark := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && p[px] == '*':
			star, mark = px, sx
			px++
		case px < len(p) && p[px] == s[sx]:
			px++
			sx++
		case star >= 0:
			px = star + 1
			mark++
			sx = mark
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}
