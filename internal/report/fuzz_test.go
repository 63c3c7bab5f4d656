package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"mcpwarden/internal/finding"
)

// fuzzReport puts fuzzed strings in every field a reviewed server or the
// scanner controls.
func fuzzReport(a, b, c string, sev, cat uint8, line int) *Report {
	f := finding.Finding{
		RuleID: a, Category: finding.Categories[int(cat)%len(finding.Categories)],
		Severity: finding.Severity(sev % 5), Confidence: float64(sev%11) / 10,
		Server: b, Tool: c, Title: a + b, Detail: c + a,
		Evidence: []finding.Evidence{{Field: b, Text: c, Note: a, Previous: b, Span: &finding.Span{Start: 0, End: len(c)}}},
	}
	statuses := []Status{Scanned, Static, NotScanned, Status(a)}
	return &Report{
		Tool: ToolInfo{Name: a, Version: b, RulePacks: []string{c}},
		Servers: []Server{
			{
				Name: b, Source: Source{Kind: a, Client: b, Path: c, Line: max(line, 0)},
				Status: statuses[int(sev)%len(statuses)], Reason: c, Transport: a, Command: []string{a, b}, URL: c,
				Info:              ServerInfo{Name: a, Version: b, Protocol: c, Instructions: a + "\n" + c},
				Tools:             []Tool{{Name: c, Title: a, Description: b, Parameters: []string{a, c}, Capabilities: []Capability{CapShell, Capabilities[int(cat)%len(Capabilities)]}, FlowLabels: []string{b}}},
				Prompts:           []Prompt{{Name: a, Description: b, Arguments: []string{c}}},
				Resources:         []Resource{{URI: a, Name: b, MIMEType: c}},
				ResourceTemplates: []ResourceTemplate{{URITemplate: b, Name: c}},
				Findings:          []finding.Finding{f},
			},
			{Name: c, Status: NotScanned, Reason: a},
		},
		CrossServer: []finding.Finding{f},
		Rules:       []Rule{{ID: a, Category: finding.ToolPoisoning, Summary: b, Detail: c}},
		Suppressed:  int(sev),
	}
}

func FuzzRender(f *testing.F) {
	f.Add("poison.x", "demo", "add", uint8(4), uint8(0), 12)
	f.Add(hostile, hostile, hostile, uint8(3), uint8(5), 0)
	f.Add("</script><script>alert(1)</script>", "<!--", "-->", uint8(2), uint8(1), 1)
	f.Add("<scr<script>ipt>", "<SCRIPT>", "\x00\xff\xfe", uint8(1), uint8(2), -5)
	f.Add("``", "|", "\\", uint8(0), uint8(3), 7)
	f.Add("\u202E\u2066", "\U000E0041\U000E007F", "a\u200Bb", uint8(9), uint8(12), 3)
	f.Add("C:\\Users\\x\\mcp.json", "file:///etc/passwd", "%zz", uint8(4), uint8(6), 99)
	f.Fuzz(func(t *testing.T, a, b, c string, sev, cat uint8, line int) {
		r := fuzzReport(a, b, c, sev, cat, line)
		render := func(format string) []byte {
			var buf bytes.Buffer
			if err := Render(&buf, r, format, RenderOptions{Color: sev%2 == 0}); err != nil {
				t.Fatalf("Render(%s) = %v", format, err)
			}
			return buf.Bytes()
		}

		js := render("json")
		if !json.Valid(js) {
			t.Fatalf("JSON report is not valid JSON:\n%s", js)
		}
		if err := validateJSON(t, reportSchemaFor(t), js); err != nil {
			t.Fatalf("JSON report violates docs/report.schema.json: %v", err)
		}

		if err := validateJSON(t, sarifSchemaFor(t), render("sarif")); err != nil {
			t.Fatalf("SARIF report violates the SARIF 2.1.0 schema: %v", err)
		}

		html := strings.ToLower(string(render("html")))
		if n := strings.Count(html, "<script"); n != 1 {
			t.Fatalf("HTML report has %d <script tags, want only its own", n)
		}
		for _, bad := range []string{"<!--", "<img", "<iframe", "\u202e", "\x1b"} {
			if strings.Contains(html, bad) {
				t.Fatalf("HTML report contains %q from input", bad)
			}
		}

		md := gfmToHTML(t, string(render("markdown")))
		if strings.Contains(strings.ToLower(md), "<script") {
			t.Fatalf("Markdown report renders a <script from input:\n%s", md)
		}

		text := string(render("text"))
		if sev%2 != 0 && strings.ContainsRune(text, 0x1b) {
			t.Fatalf("uncoloured text report contains an escape byte")
		}
		if !utf8.ValidString(text) {
			t.Fatalf("text report is not valid UTF-8")
		}
	})
}

func FuzzReveal(f *testing.F) {
	for _, s := range []string{"", "plain", hostile, "a\u200B\u200Bb", "\U000E0068\U000E0069", "\xff\xfe", "x\ny\tz\r", "\u2028\u2029\uFEFF"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		out := revealed(s, multiline)
		if !utf8.ValidString(out) {
			t.Fatalf("revealed(%q) = %q, not valid UTF-8", s, out)
		}
		for _, r := range out {
			if (r == '\n' || r == '\t') && multiline {
				continue
			}
			if isHidden(r) || isTag(r) {
				t.Fatalf("revealed(%q) = %q still holds hidden %U", s, out, r)
			}
		}
		clean := true
		for _, r := range s {
			if isHidden(r) || isTag(r) || r == '\n' || r == '\t' || r == '\r' || r == utf8.RuneError {
				clean = false
			}
		}
		if clean && out != s {
			t.Fatalf("revealed(%q) = %q, want printable text unchanged", s, out)
		}
	})
}
