package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter selects records. Every set field must match (they are ANDed); the
// zero Filter matches everything. String fields match exactly.
type Filter struct {
	Caller   string
	Server   string
	Tool     string // the tool or prompt name, or resource URI ([Record].Name)
	Method   string
	Session  string
	CallID   string
	Kind     Kind
	Decision Action // the record's summary decision, or the action of any of its steps
	Rule     string // the rule of any decision step

	Since time.Time // records at or after Since
	Until time.Time // records strictly before Until

	AfterSeq uint64 // records with Seq > AfterSeq
	Limit    int    // at most this many records (the oldest first); 0 means no limit
}

// filterKeys are the names [Filter.Set] and [ParseFilter] accept, in the
// order help text lists them.
var filterKeys = []string{"caller", "server", "tool", "method", "session", "call_id", "kind", "decision", "rule", "since", "until", "after", "limit"}

// FilterKeys returns the keys [ParseFilter] accepts.
func FilterKeys() []string { return append([]string(nil), filterKeys...) }

// Set sets the field named key from its text form. Times are parsed by
// [ParseTime] relative to now.
func (f *Filter) Set(key, value string, now time.Time) error {
	if value == "" {
		return fmt.Errorf("%s: empty value", key)
	}
	if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
		return fmt.Errorf("%s: value is not valid text", key)
	}
	var err error
	switch key {
	case "caller":
		f.Caller = value
	case "server":
		f.Server = value
	case "tool":
		f.Tool = value
	case "method":
		f.Method = value
	case "session":
		f.Session = value
	case "call_id":
		f.CallID = value
	case "rule":
		f.Rule = value
	case "kind":
		k := Kind(strings.ToLower(value))
		if k != KindRequest && k != KindDecision {
			return fmt.Errorf("kind: %q is not request or decision", value)
		}
		f.Kind = k
	case "decision":
		a := Action(strings.ToLower(value))
		if !a.Valid() {
			return fmt.Errorf("decision: %q is not allow, deny, rewrite or approve", value)
		}
		f.Decision = a
	case "since":
		f.Since, err = ParseTime(value, now)
	case "until":
		f.Until, err = ParseTime(value, now)
	case "after":
		f.AfterSeq, err = strconv.ParseUint(value, 10, 64)
	case "limit":
		f.Limit, err = strconv.Atoi(value)
		if err == nil && f.Limit < 0 {
			err = fmt.Errorf("must not be negative")
		}
	default:
		return fmt.Errorf("unknown filter %q (want one of %s)", key, strings.Join(filterKeys, ", "))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// Validate reports a filter that can match nothing by construction.
func (f *Filter) Validate() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("since (%s) is not before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return nil
}

// ParseFilter parses filter terms of the form key=value (for example
// "caller=alice", "decision=deny", "since=1h"). Keys are those of
// [FilterKeys]; a key given twice is an error.
func ParseFilter(terms []string, now time.Time) (Filter, error) {
	var f Filter
	seen := make(map[string]bool, len(terms))
	for _, t := range terms {
		key, value, ok := strings.Cut(t, "=")
		if !ok {
			return Filter{}, fmt.Errorf("filter %q: want key=value", t)
		}
		key = strings.TrimSpace(key)
		if seen[key] {
			return Filter{}, fmt.Errorf("filter %q: %s given twice", t, key)
		}
		seen[key] = true
		if err := f.Set(key, value, now); err != nil {
			return Filter{}, fmt.Errorf("filter %q: %w", t, err)
		}
	}
	if err := f.Validate(); err != nil {
		return Filter{}, err
	}
	return f, nil
}

// Match reports whether r passes every condition of f but Limit.
func (f *Filter) Match(r *Record) bool {
	switch {
	case r.Seq <= f.AfterSeq && f.AfterSeq != 0,
		f.Caller != "" && r.Caller != f.Caller,
		f.Server != "" && r.Server != f.Server,
		f.Tool != "" && r.Name != f.Tool,
		f.Method != "" && r.Method != f.Method,
		f.Session != "" && r.Session != f.Session,
		f.CallID != "" && r.CallID != f.CallID,
		f.Kind != "" && r.Kind != f.Kind,
		!f.Since.IsZero() && r.Time.Before(f.Since),
		!f.Until.IsZero() && !r.Time.Before(f.Until):
		return false
	}
	if f.Decision != "" && r.Decision != f.Decision && !hasStep(r, func(d Decision) bool { return d.Action == f.Decision }) {
		return false
	}
	if f.Rule != "" && !hasStep(r, func(d Decision) bool { return d.Rule == f.Rule }) {
		return false
	}
	return true
}

func hasStep(r *Record, ok func(Decision) bool) bool {
	for _, d := range r.Decisions {
		if ok(d) {
			return true
		}
	}
	return false
}

// timeLayouts are the absolute forms [ParseTime] accepts; the ones without
// a zone are read in now's location.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTime parses a point in time for --since and --until: an RFC 3339
// time ("2025-06-01T12:00:00Z"), a date or date and time without a zone
// (read in now's location: "2025-06-01", "2025-06-01 12:00"), Unix seconds
// ("@1748779200"), "now", "today" (midnight), or an age before now: a Go
// duration or a number of days or weeks ("90s", "15m", "2h30m", "7d", "2w").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return time.Time{}, fmt.Errorf("empty time")
	case "now":
		return now, nil
	case "today":
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		sec, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || sec < 0 || sec > maxTime.Unix() {
			return time.Time{}, fmt.Errorf("%q: want @ and Unix seconds", s)
		}
		return time.Unix(sec, 0).In(now.Location()), nil
	}
	if age, ok, err := parseAge(s); ok {
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, err)
		}
		return now.Add(-age), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2025-06-01T12:00:00Z), a date (2025-06-01), @unix-seconds, now, today, or an age such as 15m, 2h or 7d", s)
}

// parseAge parses a relative age. ok is false when s does not look like an
// age at all, so other forms can be tried.
func parseAge(s string) (time.Duration, bool, error) {
	if s == "" || s[0] < '0' || s[0] > '9' || strings.ContainsAny(s, "-:T ") {
		return 0, false, nil
	}
	var d time.Duration
	var err error
	switch unit := s[len(s)-1]; unit {
	case 'd', 'w':
		n, perr := strconv.ParseUint(s[:len(s)-1], 10, 32)
		if perr != nil {
			return 0, true, fmt.Errorf("want a whole number of days or weeks")
		}
		day := 24 * time.Hour
		if unit == 'w' {
			day *= 7
		}
		if n > uint64(maxAge/day) {
			return 0, true, fmt.Errorf("age is too large")
		}
		d = time.Duration(n) * day
	default:
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, true, fmt.Errorf("not a duration")
		}
	}
	if d > maxAge {
		return 0, true, fmt.Errorf("age is too large")
	}
	return d, true, nil
}

// maxAge keeps now minus an age inside the range record times may take.
const maxAge = 100 * 365 * 24 * time.Hour
