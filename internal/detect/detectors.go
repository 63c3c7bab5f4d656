package detect

import (
	"fmt"
	"regexp"
	"strings"

	"mcpwarden/internal/normalize"
	"mcpwarden/internal/secrets"
)

// detectorNames are the built-in Go detectors a rule pack can refer to
// with `type: detector`. The pack supplies each one's ID, weights,
// category, severity and text; the Go code only finds the evidence.
var detectorNames = map[string]bool{
	"hidden.tag": true, "hidden.bidi": true, "hidden.zero_width": true, "hidden.variation_selector": true,
	"hidden.format": true, "hidden.control": true, "hidden.escape_color": true, "hidden.escape_control": true,
	"hidden.confusable": true, "hidden.html_comment": true, "hidden.markdown_comment": true, "hidden.element": true,
	"encoded.payload": true, "encoded.instructions": true, "budget": true,
	"secret.credential":        true,
	"structure.prose_in_table": true,
	"schema.side_channel":      true, "schema.sensitive_param": true, "schema.purpose_mismatch": true,
	"argument.shell": true, "argument.path": true, "argument.url": true, "argument.sql": true,
}

var sgr = regexp.MustCompile(`^\x1b\[[0-9;:]*m$`)

// concealsText reports whether an SGR sequence sets the "conceal"
// attribute (8), which hides the text that follows.
func concealsText(seq string) bool {
	for p := range strings.SplitSeq(seq[2:len(seq)-1], ";") {
		if p == "8" || p == "08" {
			return true
		}
	}
	return false
}

func hiddenDetector(t *normalize.Text, h normalize.Hidden) string {
	switch h.Kind {
	case normalize.Tag:
		return "hidden.tag"
	case normalize.Bidi:
		return "hidden.bidi"
	case normalize.ZeroWidth:
		return "hidden.zero_width"
	case normalize.VariationSelector:
		return "hidden.variation_selector"
	case normalize.Format:
		return "hidden.format"
	case normalize.Control:
		return "hidden.control"
	case normalize.Escape:
		// Colour codes in command output are routine; cursor movement,
		// screen clearing, OSC titles and hyperlinks can hide or forge text.
		if allSGR(t.Orig[h.Span.Start:h.Span.End]) {
			return "hidden.escape_color"
		}
		return "hidden.escape_control"
	case normalize.Confusable:
		return "hidden.confusable"
	case normalize.HTMLComment:
		return "hidden.html_comment"
	case normalize.MarkdownComment:
		return "hidden.markdown_comment"
	case normalize.HiddenElement:
		return "hidden.element"
	}
	return ""
}

// allSGR reports whether s is a sequence of SGR (colour) escapes only.
func allSGR(s string) bool {
	for s != "" {
		i := strings.IndexByte(s[1:], 0x1b)
		part := s
		if i >= 0 {
			part, s = s[:i+1], s[i+1:]
		} else {
			s = ""
		}
		if !sgr.MatchString(part) || concealsText(part) {
			return false
		}
	}
	return true
}

func (e *Engine) detectHidden(st *state, field string, t *normalize.Text) {
	t.Each(func(x *normalize.Text, l *normalize.Layer, root normalize.Span) {
		if l != nil {
			for _, r := range e.byDet["encoded.payload"] {
				st.add(r, field, root, clip(t.Orig[root.Start:root.End]), fmt.Sprintf("%s payload, %d bytes decoded", l.Encoding, len(x.Orig)), 1)
			}
		}
		for _, h := range x.Hidden {
			if !h.Suspicious {
				continue
			}
			name := hiddenDetector(x, h)
			sp := h.Span
			if l != nil {
				sp = root
			}
			for _, r := range e.byDet[name] {
				note := fmt.Sprintf("%d %s character(s)", h.Count, h.Kind)
				if h.Rune != 0 {
					note += fmt.Sprintf(" (U+%04X)", h.Rune)
				}
				quote := ""
				if h.Kind >= normalize.Confusable {
					quote = e.redact(clip(t.Orig[sp.Start:sp.End]))
					note = h.Kind.String()
				}
				st.add(r, field, sp, quote, note, 1)
			}
		}
	})
	for _, l := range t.Layers {
		if l.Encoding == "unicode-tags" || l.Encoding == "variation-selectors" {
			for _, r := range e.byDet["hidden.tag"] {
				if l.Encoding == "unicode-tags" {
					st.add(r, field, l.Span, "", "hidden ASCII: "+e.redact(clip(l.Text.Orig)), 1)
				}
			}
		}
	}
}

func (e *Engine) detectSecrets(st *state, field string, t *normalize.Text, hits []secrets.Hit) {
	rules := e.byDet["secret.credential"]
	for _, m := range e.sec.FindHits(t.Orig, hits) {
		st.secrets = append(st.secrets, SecretSpan{Field: field, Match: m})
		for _, r := range rules {
			st.add(r, field, normalize.Span{Start: m.Span.Start, End: m.Span.End}, m.Placeholder(), "credential of type "+m.Type, m.Confidence)
		}
	}
}

// detectStructure finds prose lines inside tabular data: a result that is
// a table should hold rows, and a free-text line among them is text
// someone added for the reader, which in tool output means the model.
func (e *Engine) detectStructure(st *state, field string, t *normalize.Text) {
	rules := e.byDet["structure.prose_in_table"]
	if len(rules) == 0 || strings.Count(t.Norm, "\n") < 3 || strings.IndexByte(t.Norm, '|') < 0 {
		return
	}
	s := t.Norm
	var table, nonEmpty int
	for line := range strings.SplitSeq(s, "\n") {
		l := strings.TrimSpace(line)
		if l == "" {
			continue
		}
		nonEmpty++
		if isTableRow(l) {
			table++
		}
	}
	if table < 3 || table*10 < nonEmpty*6 {
		return
	}
	off := 0
	for line := range strings.SplitSeq(s, "\n") {
		start := off
		off += len(line) + 1
		l := strings.TrimSpace(line)
		if l == "" || isTableRow(l) || !isProse(l) {
			continue
		}
		sp := t.OrigSpan(start, start+len(line))
		for _, r := range rules {
			st.add(r, field, sp, e.redact(clip(t.Orig[sp.Start:sp.End])), "free text inside a table", 1)
		}
	}
}

func isTableRow(l string) bool {
	return strings.HasPrefix(l, "|") || strings.Count(l, "|") >= 2 || strings.Count(l, "\t") >= 2
}

// isProse reports whether a line reads as a sentence: several words,
// mostly letters.
func isProse(l string) bool {
	words, letters, total := 0, 0, 0
	inWord := false
	for _, c := range l {
		total++
		isL := c >= 'a' && c <= 'z' || c > 0x7f
		if isL {
			letters++
		}
		if isL || c == '\'' {
			if !inWord {
				words++
			}
			inWord = true
		} else {
			inWord = false
		}
	}
	return words >= 4 && letters*10 >= total*6
}
