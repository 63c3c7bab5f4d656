package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeRecord feeds arbitrary lines to the JSONL decoder. It must not
// panic, and whatever it accepts must survive a round trip through the
// encoder unchanged, hash included: otherwise a verify could pass on one
// reading and fail on another.
func FuzzDecodeRecord(f *testing.F) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range sealed(6) {
		buf.Reset()
		enc.Encode(&r)
		f.Add(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	good := `{"seq":1,"time":"2025-06-01T12:00:00Z","kind":"request","call_id":"c","method":"m","prev_hash":"p","hash":"h"}`
	for _, s := range []string{
		good,
		strings.Replace(good, `"method"`, `"METHOD"`, 1),
		strings.Replace(good, `"method":"m"`, `"method":"m","method":"n"`, 1),
		strings.Replace(good, `"m"`, `"\u0000\ud800"`, 1),
		strings.Replace(good, `"m"`, "\"\xff\xfe\"", 1),
		strings.Replace(good, `"seq":1`, `"seq":18446744073709551616`, 1),
		strings.Replace(good, `"seq":1`, `"seq":1e3`, 1),
		strings.Replace(good, `"call_id":"c"`, `"decisions":[{"action":"deny","rule":"r"},{"action":"x"}],"call_id":"c"`, 1),
		strings.Replace(good, `12:00:00Z`, `12:00:00.123456789+05:30`, 1),
		good + "\n",
		good + good,
		`{}`, `null`, `[`, `{"seq":`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := DecodeRecord(line)
		if err != nil {
			return
		}
		h1, _ := ComputeHash(nil, &r)
		buf := new(bytes.Buffer)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&r); err != nil {
			t.Skipf("a decoded record does not re-encode (%v); the writer never produces it", err)
		}
		r2, err := DecodeRecord(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if err != nil {
			t.Fatalf("DecodeRecord(encode(DecodeRecord(%q))) = %v", line, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, r2)
		}
		if h2, _ := ComputeHash(nil, &r2); h1 != h2 {
			t.Fatalf("round trip changed the hash: %s -> %s", h1, h2)
		}
	})
}

// FuzzParseFilter checks the filter parser never panics, that what it
// accepts is valid, and that rendering it as SQL gives one argument per
// placeholder.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"caller=alice", "decision=deny server=fs", "since=1h until=now", "since=2025-06-01 until=2025-06-02",
		"limit=10", "limit=-1", "after=5", "kind=request", "tool=read_file", "rule=args.path_root",
		"since=@1700000000", "since=7d", "since=99999999999w", "decision=DENY", "Caller=alice", "caller=",
		"caller==", "=x", "caller=a caller=b", "since=2h until=3h", "\x00=\x00", "since=2025-13-45",
		"method=tools/call session=s1 call_id=x", "since=1.5h", "since=-1h", "since=1h-",
	} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(strings.Fields(s), now)
		if err != nil {
			return
		}
		if err := flt.Validate(); err != nil {
			t.Fatalf("ParseFilter(%q) accepted an invalid filter: %v", s, err)
		}
		if flt.Limit < 0 {
			t.Fatalf("ParseFilter(%q) accepted limit %d", s, flt.Limit)
		}
		if flt.Decision != "" && !flt.Decision.Valid() {
			t.Fatalf("ParseFilter(%q) accepted decision %q", s, flt.Decision)
		}
		for _, tm := range []time.Time{flt.Since, flt.Until} {
			if !tm.IsZero() && (!utf8.ValidString(tm.String())) {
				t.Fatalf("ParseFilter(%q) produced a bad time", s)
			}
		}
		cond, args := flt.where()
		if strings.Count(cond, "?") != len(args) {
			t.Fatalf("where(%q) = %q with %d args", s, cond, len(args))
		}
		r := testRecord(1)
		flt.Match(&r) // must not panic
	})
}

// FuzzParseTime checks times never panic and accepted ages stay in the
// range records can have.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "today", "1h", "7d", "2w", "90s", "2h30m", "2025-06-01", "2025-06-01T12:00",
		"2025-06-01 12:00:00", "2025-06-01T12:00:00.5+02:00", "@0", "@-5", "@99999999999999", "0d", "1e9h",
		"9223372036854775807ns", "18446744073709551615d", "", " ", "T", "1", "d"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s, now)
		if err != nil {
			return
		}
		if tm.IsZero() {
			t.Fatalf("ParseTime(%q) = zero time without an error", s)
		}
	})
}

// FuzzRedact checks that a known token planted anywhere in arbitrary text
// never survives redaction and clipping, and that clipping keeps to its
// byte limit and to valid UTF-8.
func FuzzRedact(f *testing.F) {
	f.Add("before ", " after", 100)
	f.Add(`{"path":"`, `"}`, 40)
	f.Add("Authorization: ", "\n", 10)
	f.Add("", "", 0)
	f.Add("\xff", "日本語", 7)
	tokens := []string{
		"AKIAIOSFODNN7EXAMPLE",
		"ghp_" + strings.Repeat("a1B2", 9),
		"xoxb-123456789012-abcdefghij",
		"sk-ant-api03-" + strings.Repeat("Zz9_", 6),
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	}
	f.Fuzz(func(t *testing.T, prefix, suffix string, max int) {
		max = max % (1 << 16)
		for _, tok := range tokens {
			// Keep the token a separate word, as real ones are.
			in := prefix + " " + tok + " " + suffix
			out, _ := clip(in, max, BuiltinRedactor{})
			if strings.Contains(out, tok) {
				t.Fatalf("clip(%q) = %q still holds the token", in, out)
			}
			if max >= 0 && len(out) > max {
				t.Fatalf("clip(%q, %d) = %d bytes", in, max, len(out))
			}
			if utf8.ValidString(in) && !utf8.ValidString(out) {
				t.Fatalf("clip(%q) = %q is not valid UTF-8", in, out)
			}
		}
	})
}
