package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
)

// gfmToHTML renders Markdown as GitHub would, but with raw HTML passed
// through (the worst case: a viewer that does not sanitize).
func gfmToHTML(t testing.TB, md string) string {
	t.Helper()
	var buf bytes.Buffer
	g := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := g.Convert([]byte(md), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestMarkdownHostileTextStaysText(t *testing.T) {
	md := renderString(t, hostileReport(), "markdown")
	out := gfmToHTML(t, md)
	for _, bad := range []string{"<script", "<img", "<!-- x", "<pre>"} {
		if strings.Contains(out, bad) {
			t.Errorf("Markdown rendered to HTML contains %q from untrusted input", bad)
		}
	}
	// Every table row keeps its column count: no '|' from the input split a
	// cell, no backtick closed a code span early.
	rows := regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(out, -1)
	tables := regexp.MustCompile(`(?s)<table>.*?</table>`).FindAllString(out, -1)
	if len(rows) == 0 || len(tables) == 0 {
		t.Fatal("Markdown rendered no tables")
	}
	for _, table := range tables {
		var want int
		for i, row := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
			n := strings.Count(row[1], "<td") + strings.Count(row[1], "<th")
			if i == 0 {
				want = n
			} else if n != want {
				t.Errorf("table row has %d cells, want %d:\n%s", n, want, row[1])
			}
		}
	}
	// The hostile text survives whole inside code spans, escaped.
	if !strings.Contains(out, "<code>evil⟨U+202E⟩txt.exe") && !strings.Contains(out, "&lt;script&gt;alert(document.cookie)") {
		t.Errorf("hostile evidence was not rendered as text")
	}
}

func TestMDCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "`plain`"},
		{"a`b", "``a`b``"},
		{"``x", "``` ``x ```"},
		{"x`", "`` x` ``"},
		{"", "` `"},
		{"line\nbreak", "`line\\nbreak`"},
		{"  both  ", "`   both   `"},
	}
	for _, tt := range tests {
		if got := mdCode(tt.in); got != tt.want {
			t.Errorf("mdCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Whatever the input, GFM renders the span back to exactly the
	// revealed text.
	for _, in := range []string{"a`b", "``x", "x`", "`", "` `", "|pipe|", "*em* _u_ <b>"} {
		out := gfmToHTML(t, "| c |\n|---|\n| "+mdCell(mdCode(in))+" |\n")
		m := regexp.MustCompile(`(?s)<code>(.*?)</code>`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("mdCode(%q) in a table rendered no code span: %s", in, out)
			continue
		}
		if got := htmlUnescape(m[1]); got != in {
			t.Errorf("mdCode(%q) in a table renders as %q", in, got)
		}
	}
}

func TestMDText(t *testing.T) {
	for _, in := range []string{"*not em*", "_x_", "[link](http://x)", "<b>bold</b>", "a | b", "&lt;", "~~s~~", "# h", "$x$", `back\slash`} {
		out := gfmToHTML(t, "x "+mdText(in)+"\n")
		got := htmlUnescape(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "<p>x "), "</p>"))
		if got != in {
			t.Errorf("mdText(%q) renders as %q, want the text itself", in, got)
		}
	}
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(s)
}
