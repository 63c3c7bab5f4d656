// Package confval holds the small value types and the error shape shared
// by the policy sections of the configuration (policy.auth, policy.access,
// policy.limits). Each section is decoded by package config and validated
// by the package that enforces it; validation errors carry a key path
// relative to the section, which package config turns into file:line:col.
package confval

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as 30s, 1m30s or 2h.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("expected a duration such as 30s or 2m, got %q", b)
	}
	if v < 0 {
		return fmt.Errorf("expected a positive duration, got %q", b)
	}
	*d = Duration(v)
	return nil
}

// Error is one problem in a policy section. Path is relative to the
// section ("api_keys[1].hash"). Line and Column, when set, locate the
// problem inside a multi-line value (a CEL expression), 1-based.
type Error struct {
	Path   string
	Msg    string
	Line   int
	Column int
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf returns an Error at path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Errors is every problem found in one section.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Add appends an error at path.
func (es *Errors) Add(path, format string, args ...any) {
	*es = append(*es, Errorf(path, format, args...))
}

// Prefix returns the errors with prefix joined in front of their paths.
func (es Errors) Prefix(prefix string) Errors {
	out := make(Errors, len(es))
	for i, e := range es {
		c := *e
		switch {
		case c.Path == "":
			c.Path = prefix
		case strings.HasPrefix(c.Path, "["):
			c.Path = prefix + c.Path
		default:
			c.Path = prefix + "." + c.Path
		}
		out[i] = &c
	}
	return out
}

// ByteSize is a size in bytes, written as a whole number of bytes or with
// a unit: 512KiB, 4MiB, 1GiB (or kB, MB, GB for powers of 1000).
type ByteSize int64

// Int returns the size as an int64.
func (b ByteSize) Int() int64 { return int64(b) }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return fmt.Errorf("expected a size such as 65536, 64KiB or 4MiB, got %q", text)
	}
	*b = ByteSize(n * mult)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b ByteSize) String() string {
	for _, u := range sizeUnits[:3] {
		if b != 0 && int64(b)%u.mult == 0 && int64(b) >= u.mult {
			if int64(b)%(u.mult<<10) != 0 || u.suffix == "GiB" {
				return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(int64(b), 10) + " bytes"
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// IDs checks the ids of a list of rules, which denials and audit records
// name: each present, well formed and unique. Call ID for every entry,
// in order; list is the key of the list ("rules", "rate") and what is
// why an id is needed.
type IDs struct {
	list, what string
	seen       map[string]int
}

// NewIDs starts checking the ids of list.
func NewIDs(list, what string) *IDs { return &IDs{list: list, what: what, seen: map[string]int{}} }

// Check adds to es what is wrong with entry i's id.
func (c *IDs) Check(es *Errors, i int, id string) {
	p := fmt.Sprintf("%s[%d].id", c.list, i)
	switch {
	case id == "":
		es.Add(p, "every %s", c.what)
	case !idRE.MatchString(id):
		es.Add(p, "expected 1 to 64 characters from a-z 0-9 _ . - starting with a letter or digit, got %q", id)
	default:
		if j, dup := c.seen[id]; dup {
			es.Add(p, "the id %q is already used by %s[%d]", id, c.list, j)
		}
		c.seen[id] = i
	}
}
