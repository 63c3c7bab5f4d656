package audit

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// textValueMax bounds free text (arguments, results, reasons) in one text
// line; the JSON form has everything.
const textValueMax = 200

// WriteText writes r as one human-readable line. Everything taken from the
// call is escaped, so a record cannot smuggle terminal control sequences
// or fake lines into an operator's terminal.
func WriteText(w io.Writer, r *Record) error {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString(" #")
	b.WriteString(strconv.FormatUint(r.Seq, 10))
	b.WriteByte(' ')
	b.WriteString(string(r.Kind))
	if r.Decision != "" {
		b.WriteByte(' ')
		b.WriteString(string(r.Decision))
	}
	b.WriteByte(' ')
	caller := r.Caller
	if caller == "" {
		caller = "(anonymous)"
	}
	b.WriteString(word(caller))
	if r.AuthMethod != "" {
		b.WriteString("(" + word(r.AuthMethod) + ")")
	}
	b.WriteByte(' ')
	b.WriteString(word(r.Method))
	if r.Server != "" || r.Name != "" {
		b.WriteByte(' ')
		b.WriteString(word(r.Server + "/" + r.Name))
	}
	if r.Kind == KindDecision {
		b.WriteByte(' ')
		b.WriteString(r.Latency.Round(time.Microsecond).String())
	}
	for _, d := range r.Decisions {
		b.WriteString(" [")
		b.WriteString(string(d.Action))
		if d.Rule != "" {
			b.WriteString(" " + word(d.Rule))
		}
		if d.Control != "" {
			b.WriteString(" by " + word(d.Control))
		}
		if d.Reason != "" {
			b.WriteString(": " + text(d.Reason, false))
		}
		b.WriteByte(']')
	}
	for _, kv := range [...]struct {
		k, v  string
		trunc bool
	}{
		{"args", r.Args, r.ArgsTruncated},
		{"result", r.Result, r.ResultTruncated},
		{"error", r.Error, false},
		{"session", r.Session, false},
		{"call", r.CallID, false},
	} {
		if kv.v != "" {
			b.WriteString(" " + kv.k + "=" + text(kv.v, kv.trunc))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// word returns s as is when it is plain (printable, no spaces), else
// quoted with escapes.
func word(s string) string {
	for _, c := range s {
		if c == ' ' || c == '"' || !unicode.IsGraphic(c) {
			return strconv.QuoteToGraphic(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// text quotes s with escapes, cut to textValueMax bytes.
func text(s string, truncated bool) string {
	cut := truncated
	if len(s) > textValueMax {
		i := textValueMax
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	q := strconv.QuoteToGraphic(s)
	if cut {
		q += "…"
	}
	return q
}

// JSONWriter writes records as JSON lines, in the JSONL sink's format.
type JSONWriter struct {
	enc *json.Encoder
}

// NewJSONWriter returns a JSONWriter on w.
func NewJSONWriter(w io.Writer) *JSONWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONWriter{enc: enc}
}

// Write writes r as one line.
func (j *JSONWriter) Write(r *Record) error { return j.enc.Encode(r) }
