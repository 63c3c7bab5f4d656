package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"mcpwarden/internal/finding"
)

// GitHub-flavoured Markdown, for pull-request comments and job summaries.
// Untrusted text is either backslash-escaped prose or a code span, never
// raw: Markdown passes HTML through, and a tool description is hostile.

var severityDot = map[finding.Severity]string{
	finding.Critical: "🔴", finding.High: "🟠", finding.Medium: "🟡", finding.Low: "🔵", finding.Info: "⚪",
}

// mdText escapes untrusted text as Markdown prose on one line. It never
// starts a line, so only characters that open inline markup (emphasis,
// code, links, HTML, entities, math, table cells, heading closers) need a
// backslash.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range revealed(s, false) {
		if strings.ContainsRune("\\`*_[]<>|~&#$", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode renders untrusted text as an inline code span on one line. The
// fence is longer than any backtick run inside, and padded when the text
// starts or ends with a backtick, so the span cannot be closed early.
func mdCode(s string) string {
	s = revealed(s, false)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell makes a code span safe inside a table row: GFM splits cells on
// '|' even within code spans unless it is escaped.
func mdCell(code string) string { return strings.ReplaceAll(code, "|", `\|`) }

type mdWriter struct {
	bytes.Buffer
	docs string
}

func (m *mdWriter) p(format string, args ...any) {
	fmt.Fprintf(m, format, args...)
	m.WriteByte('\n')
}

func renderMarkdown(w io.Writer, r *Report, o RenderOptions) error {
	m := &mdWriter{docs: o.docsURL()}
	m.p("# MCP security review")
	m.p("")
	meta := runMeta(r)
	for i := range meta {
		meta[i] = mdText(meta[i])
	}
	m.p("%s", strings.Join(meta, " · "))
	m.p("")
	m.summary(r)
	for _, s := range r.Servers {
		m.server(s)
	}
	if len(r.CrossServer) > 0 {
		m.p("## Across servers")
		m.p("")
		m.findings(r.CrossServer, true)
	}
	_, err := w.Write(m.Bytes())
	return err
}

func (m *mdWriter) summary(r *Report) {
	sum := Summarize(r)
	m.p("## Summary")
	m.p("")
	notScanned := fmt.Sprint(sum.NotScanned)
	if sum.NotScanned > 0 {
		notScanned = "**" + notScanned + "** ⚠️"
	}
	m.p("| Servers | Scanned | Static | Not scanned | Findings | Suppressed |")
	m.p("|---:|---:|---:|---:|---:|---:|")
	m.p("| %d | %d | %d | %s | %d | %d |", sum.Servers, sum.Scanned, sum.Static, notScanned, sum.Findings, sum.Suppressed)
	m.p("")
	m.p("| Severity | Findings |")
	m.p("|---|---:|")
	for _, s := range severities {
		m.p("| %s %s | %d |", severityDot[s], s, sum.BySeverity[s.String()])
	}
	m.p("")
	if cats := categoryCounts(r.AllFindings()); len(cats) > 0 {
		m.p("| Category | Findings |")
		m.p("|---|---:|")
		for _, c := range cats {
			m.p("| %s | %d |", mdText(c.Name), c.Count)
		}
		m.p("")
	}
	if sum.NotScanned > 0 {
		m.p("> [!CAUTION]")
		m.p("> **NOT SCANNED: %d of %d %s could not be reviewed.** The review is incomplete: no findings for these servers does not mean they are safe.", sum.NotScanned, sum.Servers, plural(sum.Servers, "server", "servers"))
		m.p(">")
		for _, u := range sum.Unscanned {
			reason := u.Reason
			if reason == "" {
				reason = "no reason recorded"
			}
			m.p("> - **%s**: %s", mdText(u.Name), mdText(clip(reason, 300)))
		}
		m.p("")
	} else if sum.Findings == 0 {
		m.p("✅ No findings in any server.")
		m.p("")
	}
}

func (m *mdWriter) server(s Server) {
	status := string(s.Status)
	if !s.Status.Reviewed() {
		status = "⚠️ NOT SCANNED"
	} else {
		status += fmt.Sprintf(", %d %s", len(s.Findings), plural(len(s.Findings), "finding", "findings"))
	}
	m.p("## Server %s (%s)", mdText(s.Name), status)
	m.p("")
	if !s.Status.Reviewed() {
		reason := s.Reason
		if reason == "" {
			reason = "no reason recorded"
		}
		m.p("> [!WARNING]")
		m.p("> **Not scanned:** %s", mdText(clip(reason, 300)))
		m.p("")
	}
	rows := [][2]string{}
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	if s.Status.Reviewed() && s.Reason != "" {
		add("Note", mdText(clip(s.Reason, 300)))
	}
	if src := sourceText(s.Source); src != "" {
		add("Source", mdCell(mdCode(src)))
	}
	if l := launchText(s); l != "" {
		add("Launch", mdCell(mdCode(clip(l, 200))))
	}
	if i := infoText(s.Info); i != "" {
		add("Server", mdText(i))
	}
	if s.Info.Instructions != "" {
		add("Instructions", mdText(clip(oneLine(s.Info.Instructions), 300)))
	}
	if s.Status.Reviewed() {
		add("Inventory", inventoryText(s))
	}
	if len(rows) > 0 {
		m.p("| | |")
		m.p("|---|---|")
		for _, r := range rows {
			m.p("| %s | %s |", r[0], r[1])
		}
		m.p("")
	}
	if s.Status.Reviewed() {
		m.inventory(s)
		m.capabilities(s.Tools)
	}
	if len(s.Findings) > 0 {
		m.p("### Findings")
		m.p("")
		m.findings(s.Findings, false)
	}
}

func (m *mdWriter) inventory(s Server) {
	if len(s.Tools)+len(s.Prompts)+len(s.Resources)+len(s.ResourceTemplates) == 0 {
		return
	}
	m.p("### Inventory")
	m.p("")
	m.p("| Kind | Name | Description |")
	m.p("|---|---|---|")
	for _, t := range s.Tools {
		desc := t.Description
		if t.Title != "" {
			desc = t.Title + ": " + desc
		}
		m.p("| tool | %s | %s |", mdCell(mdCode(signature(t))), mdText(clip(oneLine(desc), 160)))
	}
	for _, p := range s.Prompts {
		m.p("| prompt | %s | %s |", mdCell(mdCode(p.Name+"("+strings.Join(p.Arguments, ", ")+")")), mdText(clip(oneLine(p.Description), 160)))
	}
	for _, r := range s.Resources {
		desc := r.Name
		if r.MIMEType != "" {
			desc = strings.TrimSpace(desc + " (" + r.MIMEType + ")")
		}
		m.p("| resource | %s | %s |", mdCell(mdCode(r.URI)), mdText(desc))
	}
	for _, r := range s.ResourceTemplates {
		m.p("| resource template | %s | %s |", mdCell(mdCode(r.URITemplate)), mdText(r.Name))
	}
	m.p("")
}

func (m *mdWriter) capabilities(tools []Tool) {
	if len(tools) == 0 {
		return
	}
	m.p("### Capabilities")
	m.p("")
	head, sep := "| Tool |", "|---|"
	for _, c := range Capabilities {
		head += " " + string(c) + " |"
		sep += ":-:|"
	}
	m.p("%s Flow |", head)
	m.p("%s---|", sep)
	for _, t := range tools {
		row := "| " + mdCell(mdCode(t.Name)) + " |"
		for _, c := range Capabilities {
			if t.hasCapability(c) {
				row += " ✔ |"
			} else {
				row += " |"
			}
		}
		m.p("%s %s |", row, mdText(flowText(t.FlowLabels)))
	}
	m.p("")
}

func (m *mdWriter) findings(fs []finding.Finding, withServer bool) {
	for _, f := range fs {
		head := fmt.Sprintf("#### %s %s · %s", severityDot[f.Severity], strings.ToUpper(f.Severity.String()), mdCode(f.RuleID))
		if withServer && f.Server != "" {
			head += " · " + mdCode(f.Server)
		}
		if f.Tool != "" {
			head += " · " + mdCode(f.Tool)
		}
		m.p("%s", head)
		m.p("")
		meta := string(f.Category)
		if f.Confidence > 0 && f.Confidence < 1 {
			meta += fmt.Sprintf(", %d%% confidence", int(f.Confidence*100+0.5))
		}
		m.p("**%s** (%s)", mdText(f.Title), mdText(meta))
		m.p("")
		for _, e := range f.Evidence {
			field := e.Field
			if field == "" {
				field = "evidence"
			}
			line := "- " + mdCode(field)
			if e.Span != nil {
				line += fmt.Sprintf(" [%d:%d]", e.Span.Start, e.Span.End)
			}
			switch {
			case e.Previous != "":
				line += " changed from " + mdCode(clip(e.Previous, 400)) + " to " + mdCode(clip(e.Text, 400))
			case e.Text != "":
				line += ": " + mdCode(clip(e.Text, 400))
			}
			if e.Note != "" {
				line += " — " + mdText(clip(e.Note, 300))
			}
			m.p("%s", line)
		}
		if len(f.Evidence) > 0 {
			m.p("")
		}
		detail := ""
		if f.Detail != "" {
			detail = mdText(f.Detail) + " "
		}
		m.p("%s[Rule %s](%s#%s)", detail, mdText(f.RuleID), m.docs, RuleAnchor(f.RuleID))
		m.p("")
	}
}
