package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mcpwarden/internal/finding"
)

// palette applies ANSI SGR codes when colour is on.
type palette struct{ on bool }

func (p palette) sgr(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) bold(s string) string  { return p.sgr("1", s) }
func (p palette) dim(s string) string   { return p.sgr("2", s) }
func (p palette) red(s string) string   { return p.sgr("1;31", s) }
func (p palette) green(s string) string { return p.sgr("32", s) }
func (p palette) cyan(s string) string  { return p.sgr("36", s) }

func (p palette) severity(s finding.Severity, text string) string {
	switch s {
	case finding.Critical:
		return p.sgr("1;97;41", text)
	case finding.High:
		return p.sgr("1;31", text)
	case finding.Medium:
		return p.sgr("33", text)
	case finding.Low:
		return p.sgr("36", text)
	}
	return p.sgr("2", text)
}

// untrusted renders text from the reviewed party on one line, clipped to n
// runes, with hidden characters shown as highlighted stand-ins.
func (p palette) untrusted(s string, n int) string {
	var b strings.Builder
	for _, seg := range reveal(clip(s, n), false) {
		if seg.hidden {
			b.WriteString(p.sgr("1;35", seg.text))
		} else {
			b.WriteString(seg.text)
		}
	}
	return b.String()
}

// quoted is untrusted in double quotes, so the reader sees where quoted
// text starts and ends.
func (p palette) quoted(s string, n int) string {
	return p.dim("“") + p.untrusted(s, n) + p.dim("”")
}

// wrapUntrusted reveals s and breaks it into lines of at most width
// columns, at a space when there is one in the second half of the line and
// anywhere otherwise (evidence is often one long token). Hidden-character
// stand-ins keep their highlight across breaks.
func (p palette) wrapUntrusted(s string, width int) []string {
	width = max(width, 20)
	type cell struct {
		r      rune
		hidden bool
	}
	var cells []cell
	for _, seg := range reveal(s, false) {
		for _, r := range seg.text {
			cells = append(cells, cell{r, seg.hidden})
		}
	}
	var lines []string
	for len(cells) > 0 {
		n := min(width, len(cells))
		if n < len(cells) {
			for i := n - 1; i > width/2; i-- {
				if cells[i].r == ' ' && !cells[i].hidden {
					n = i + 1
					break
				}
			}
		}
		var b, run strings.Builder
		hidden := false
		flush := func() {
			if hidden {
				b.WriteString(p.sgr("1;35", run.String()))
			} else {
				b.WriteString(run.String())
			}
			run.Reset()
		}
		for _, c := range cells[:n] {
			if c.hidden != hidden {
				flush()
				hidden = c.hidden
			}
			run.WriteRune(c.r)
		}
		flush()
		lines = append(lines, strings.TrimRight(b.String(), " "))
		cells = cells[n:]
	}
	return lines
}

type textWriter struct {
	p     palette
	width int
	buf   bytes.Buffer
}

func (t *textWriter) line(format string, args ...any) {
	fmt.Fprintf(&t.buf, format, args...)
	t.buf.WriteByte('\n')
}

// field writes a labelled line of the server block.
func (t *textWriter) field(label, value string) {
	t.line("  %s%s", t.p.dim(pad(label, 14)), value)
}

// wrapped writes s word-wrapped to the width, each line indented.
func (t *textWriter) wrapped(indent int, s string, style func(string) string) {
	for _, l := range wrap(s, t.width-indent) {
		t.line("%s%s", strings.Repeat(" ", indent), style(l))
	}
}

func renderText(w io.Writer, r *Report, o RenderOptions) error {
	t := &textWriter{p: palette{o.Color}, width: o.width()}
	t.header(r)
	t.summary(r)
	for _, s := range r.Servers {
		t.server(s)
	}
	if len(r.CrossServer) > 0 {
		t.rule("Across servers", fmt.Sprintf("%d %s", len(r.CrossServer), plural(len(r.CrossServer), "finding", "findings")), t.p.bold)
		t.findings(r.CrossServer, true)
	}
	_, err := w.Write(t.buf.Bytes())
	return err
}

func (t *textWriter) header(r *Report) {
	meta := runMeta(r)
	for i := range meta {
		meta[i] = t.p.untrusted(meta[i], 200)
	}
	t.line("%s %s", t.p.bold(meta[0]), t.p.dim("· MCP security review"))
	if len(meta) > 1 {
		t.line("%s", t.p.dim(strings.Join(meta[1:], " · ")))
	}
	t.line("")
}

func (t *textWriter) summary(r *Report) {
	scanned, static, notScanned := r.statusCounts()
	t.line("%s", t.p.bold("SUMMARY"))
	servers := fmt.Sprintf("%d %s: %d scanned", len(r.Servers), plural(len(r.Servers), "server", "servers"), scanned)
	if static > 0 {
		servers += fmt.Sprintf(", %d static", static)
	}
	if notScanned > 0 {
		servers += ", " + t.p.red(fmt.Sprintf("%d NOT SCANNED", notScanned))
	}
	t.field("Servers", servers)

	all := r.AllFindings()
	counts := r.Counts()
	var parts []string
	for _, s := range severities {
		part := fmt.Sprintf("%d %s", counts[s], s)
		if counts[s] > 0 {
			part = t.p.severity(s, part)
		} else {
			part = t.p.dim(part)
		}
		parts = append(parts, part)
	}
	findings := fmt.Sprintf("%d  %s", len(all), strings.Join(parts, t.p.dim(" · ")))
	if r.Suppressed > 0 {
		findings += t.p.dim(fmt.Sprintf("  (+%d suppressed)", r.Suppressed))
	}
	t.field("Findings", findings)
	if cats := categoryCounts(all); len(cats) > 0 {
		parts := make([]string, len(cats))
		for i, c := range cats {
			parts[i] = fmt.Sprintf("%s %d", c.Name, c.Count)
		}
		for i, l := range wrap(strings.Join(parts, " · "), t.width-16) {
			label := ""
			if i == 0 {
				label = "Classes"
			}
			t.field(label, strings.ReplaceAll(l, " · ", t.p.dim(" · ")))
		}
	}
	switch {
	case len(all) == 0 && notScanned == 0:
		t.line("  %s", t.p.green("✓ no findings in any server"))
	case len(all) == 0:
		t.line("  %s", t.p.dim("no findings in the servers that were reviewed"))
	}
	if notScanned > 0 {
		t.line("")
		bar := t.p.red("┃")
		t.line("  %s %s", bar, t.p.red(fmt.Sprintf("✗ NOT SCANNED: %d of %d %s could not be reviewed.", notScanned, len(r.Servers), plural(len(r.Servers), "server", "servers"))))
		t.line("  %s %s", bar, t.p.bold("The review is incomplete: no findings for these servers does not mean they are safe."))
		for _, s := range r.Unscanned() {
			reason := s.Reason
			if reason == "" {
				reason = "no reason recorded"
			}
			t.line("  %s   %s  %s", bar, t.p.bold(t.p.untrusted(s.Name, 40)), t.p.untrusted(reason, 200))
		}
	}
	t.line("")
}

// rule writes a section heading: ━━ title ━━━━━━━ right.
func (t *textWriter) rule(title, right string, style func(string) string) {
	used := 3 + displayWidth(title) + 1 + 1 + displayWidth(right)
	fill := max(t.width-used, 3)
	t.line("%s %s %s %s", t.p.dim("━━"), t.p.bold(title), t.p.dim(strings.Repeat("━", fill)), style(right))
}

func (t *textWriter) server(s Server) {
	right := string(s.Status)
	style := t.p.dim
	if !s.Status.Reviewed() {
		right, style = "NOT SCANNED", t.p.red
	} else if n := len(s.Findings); n > 0 {
		right += fmt.Sprintf(" · %d %s", n, plural(n, "finding", "findings"))
	} else {
		right += " · no findings"
	}
	t.rule(t.p.untrusted(s.Name, 60), right, style)
	if !s.Status.Reviewed() {
		reason := s.Reason
		if reason == "" {
			reason = "no reason recorded"
		}
		t.line("  %s %s", t.p.red("✗ not scanned:"), t.p.untrusted(reason, 300))
	} else if s.Reason != "" {
		t.field("Note", t.p.untrusted(s.Reason, 300))
	}
	if src := sourceText(s.Source); src != "" {
		t.field("Source", t.p.untrusted(src, 200))
	}
	if launch := launchText(s); launch != "" {
		t.field("Launch", t.p.untrusted(launch, 200))
	}
	if info := infoText(s.Info); info != "" {
		t.field("Server", t.p.untrusted(info, 120))
	}
	if s.Info.Instructions != "" {
		t.field("Instructions", t.p.quoted(oneLine(s.Info.Instructions), 160))
	}
	if s.Status.Reviewed() {
		t.field("Inventory", inventoryText(s))
		t.matrix(s.Tools)
		t.others(s)
	}
	if len(s.Findings) > 0 {
		t.line("")
		t.findings(s.Findings, false)
	}
	t.line("")
}

// capHeaders are the matrix column headings, parallel to [Capabilities].
var capHeaders = []string{"fs", "net", "shell", "db", "msg", "secret", "exec"}

func (t *textWriter) matrix(tools []Tool) {
	if len(tools) == 0 {
		return
	}
	const nameMax = 34
	names := make([]string, len(tools))
	nameW := len("tool")
	for i, tool := range tools {
		names[i] = t.p.untrusted(signature(tool), nameMax)
		nameW = max(nameW, displayWidth(names[i]))
	}
	head := "  " + pad("tool", nameW)
	for _, h := range capHeaders {
		head += "  " + h
	}
	t.line("")
	t.line("%s", t.p.dim(head+"  flow"))
	for i, tool := range tools {
		row := "  " + pad(names[i], nameW)
		for j, c := range Capabilities {
			cell := t.p.dim("·")
			if tool.hasCapability(c) {
				cell = t.p.cyan("●")
			}
			w := len(capHeaders[j])
			row += "  " + strings.Repeat(" ", (w-1)/2) + cell + strings.Repeat(" ", w-1-(w-1)/2)
		}
		if fl := flowText(tool.FlowLabels); fl != "" {
			row += "  " + t.p.dim(fl)
		}
		t.line("%s", strings.TrimRight(row, " "))
	}
}

func (t *textWriter) others(s Server) {
	list := func(label string, items []string) {
		if len(items) == 0 {
			return
		}
		const show = 8
		var parts []string
		for i, it := range items {
			if i == show {
				parts = append(parts, t.p.dim(fmt.Sprintf("… and %d more", len(items)-show)))
				break
			}
			parts = append(parts, t.p.untrusted(it, 60))
		}
		t.field(label, strings.Join(parts, t.p.dim(", ")))
	}
	if len(s.Prompts)+len(s.Resources)+len(s.ResourceTemplates) > 0 {
		t.line("")
	}
	var prompts, resources, templates []string
	for _, p := range s.Prompts {
		prompts = append(prompts, p.Name+"("+strings.Join(p.Arguments, ", ")+")")
	}
	for _, r := range s.Resources {
		resources = append(resources, r.URI)
	}
	for _, r := range s.ResourceTemplates {
		templates = append(templates, r.URITemplate)
	}
	list("Prompts", prompts)
	list("Resources", resources)
	list("Templates", templates)
}

func (t *textWriter) findings(fs []finding.Finding, withServer bool) {
	const indent = 12
	ind := strings.Repeat(" ", indent)
	for i, f := range fs {
		if i > 0 {
			t.line("")
		}
		where := f.Tool
		if withServer && f.Server != "" {
			if where != "" {
				where = f.Server + "/" + where
			} else {
				where = f.Server
			}
		}
		head := t.p.bold(t.p.untrusted(f.RuleID, 60))
		if where != "" {
			head = t.p.bold(t.p.untrusted(where, 60)) + t.p.dim(" · ") + t.p.untrusted(f.RuleID, 60)
		}
		head += t.p.dim(" (" + string(f.Category) + ")")
		if f.Confidence > 0 && f.Confidence < 1 {
			head += t.p.dim(fmt.Sprintf(" · %d%% confidence", int(f.Confidence*100+0.5)))
		}
		t.line("  %s%s", t.p.severity(f.Severity, pad(strings.ToUpper(f.Severity.String()), 8)), "  "+head)
		t.line("%s%s", ind, t.p.untrusted(f.Title, t.width))
		for _, e := range f.Evidence {
			t.evidence(ind, e)
		}
		if f.Detail != "" {
			t.wrapped(indent, revealed(f.Detail, false), t.p.dim)
		}
	}
}

func (t *textWriter) evidence(ind string, e finding.Evidence) {
	field := e.Field
	if field == "" {
		field = "evidence"
	}
	label := t.p.cyan("▸ " + t.p.untrusted(field, 80))
	if e.Span != nil {
		label += t.p.dim(fmt.Sprintf(" [%d:%d]", e.Span.Start, e.Span.End))
	}
	const textMax = 600 // runes of quoted evidence; the JSON report has it all
	// quote writes text after prefix: on the same line when it fits,
	// wrapped below it otherwise; with hang, always beside the prefix with
	// continuation lines aligned under the text (for − and + of a diff).
	quote := func(prefix, text string, hang bool) {
		inner := len(ind) + 2
		if hang {
			inner = len(ind) + displayWidth(prefix) + 1
		}
		lines := t.p.wrapUntrusted("“"+clip(text, textMax)+"”", t.width-inner)
		if hang || len(lines) == 1 && displayWidth(prefix)+1+displayWidth(lines[0]) <= t.width-len(ind) {
			t.line("%s%s %s", ind, prefix, lines[0])
			lines = lines[1:]
		} else {
			t.line("%s%s", ind, prefix)
		}
		for _, l := range lines {
			t.line("%s%s", strings.Repeat(" ", inner), l)
		}
	}
	switch {
	case e.Previous != "":
		t.line("%s%s %s", ind, label, t.p.dim("changed"))
		quote("  "+t.p.red("−"), e.Previous, true)
		quote("  "+t.p.green("+"), e.Text, true)
	case e.Text != "":
		quote(label, e.Text, false)
	default:
		t.line("%s%s", ind, label)
	}
	if e.Note != "" {
		t.line("%s  %s", ind, t.p.untrusted(e.Note, 300))
	}
}

// catCount is how many findings one category has.
type catCount struct {
	Name  string
	Count int
}

// categoryCounts tallies findings by category in report order; categories
// this version does not know follow, sorted, so they stay visible.
func categoryCounts(fs []finding.Finding) []catCount {
	n := make(map[finding.Category]int)
	for _, f := range fs {
		n[f.Category]++
	}
	var out, unknown []catCount
	for _, c := range finding.Categories {
		if n[c] > 0 {
			out = append(out, catCount{string(c), n[c]})
			delete(n, c)
		}
	}
	for c, k := range n {
		unknown = append(unknown, catCount{revealed(string(c), false), k})
	}
	slices.SortFunc(unknown, func(a, b catCount) int { return strings.Compare(a.Name, b.Name) })
	return append(out, unknown...)
}

// runMeta describes the run: the tool and version, when it started, how
// long it took and which rule packs judged it. Parts are raw text; each
// format escapes them.
func runMeta(r *Report) []string {
	name := r.Tool.Name
	if name == "" {
		name = "mcpwarden"
	}
	meta := []string{strings.TrimSpace(name + " " + r.Tool.Version)}
	if !r.StartedAt.IsZero() {
		meta = append(meta, "started "+r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		if d := r.FinishedAt.Sub(r.StartedAt); d > 0 {
			meta = append(meta, "took "+d.Round(100*time.Millisecond).String())
		}
	}
	if len(r.Tool.RulePacks) > 0 {
		meta = append(meta, "rules "+strings.Join(r.Tool.RulePacks, ", "))
	}
	return meta
}

func sourceText(s Source) string {
	var parts []string
	if s.Client != "" {
		parts = append(parts, s.Client)
	}
	if s.Kind != "" && s.Kind != "client-config" {
		parts = append(parts, s.Kind)
	}
	if s.Path != "" {
		p := s.Path
		if s.Line > 0 {
			p += ":" + strconv.Itoa(s.Line)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "  ")
}

func launchText(s Server) string {
	switch {
	case len(s.Command) > 0:
		return s.Transport + ": " + strings.Join(s.Command, " ")
	case s.URL != "":
		return s.Transport + ": " + s.URL
	case s.Transport == "file":
		return "" // a definitions file: the Source line already names it
	}
	return s.Transport
}

func infoText(i ServerInfo) string {
	var parts []string
	if i.Name != "" {
		parts = append(parts, strings.TrimSpace(i.Name+" "+i.Version))
	} else if i.Version != "" {
		parts = append(parts, i.Version)
	}
	if i.Protocol != "" {
		parts = append(parts, "protocol "+i.Protocol)
	}
	return strings.Join(parts, " · ")
}

func inventoryText(s Server) string {
	count := func(n int, one, many string) string { return fmt.Sprintf("%d %s", n, plural(n, one, many)) }
	return strings.Join([]string{
		count(len(s.Tools), "tool", "tools"),
		count(len(s.Prompts), "prompt", "prompts"),
		count(len(s.Resources), "resource", "resources"),
		count(len(s.ResourceTemplates), "resource template", "resource templates"),
	}, " · ")
}

// signature renders a tool as name(param, ...) when its parameters are known.
func signature(t Tool) string {
	if t.Parameters == nil {
		return t.Name
	}
	return t.Name + "(" + strings.Join(t.Parameters, ", ") + ")"
}

var flowShort = map[string]string{"untrusted_source": "untrusted", "private_reader": "private", "exfil_sink": "sink"}

func flowText(labels []string) string {
	out := make([]string, len(labels))
	for i, l := range labels {
		if s, ok := flowShort[l]; ok {
			out[i] = s
		} else {
			out[i] = revealed(l, false)
		}
	}
	return strings.Join(out, ",")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// displayWidth counts the runes of s that occupy a column, skipping ANSI
// escape sequences. Wide (East Asian) characters count as one; alignment
// of such names is best effort.
func displayWidth(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			i += j + 1
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

func pad(s string, w int) string {
	if n := displayWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// wrap breaks s into lines of at most width runes at spaces; a word longer
// than the width is cut.
func wrap(s string, width int) []string {
	width = max(width, 20)
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		for len(w) > width {
			if len(cur) > 0 {
				lines = append(lines, string(cur))
				cur = nil
			}
			lines = append(lines, string(w[:width]))
			w = w[width:]
		}
		switch {
		case len(cur) == 0:
			cur = append(cur, w...)
		case len(cur)+1+len(w) <= width:
			cur = append(append(cur, ' '), w...)
		default:
			lines = append(lines, string(cur))
			cur = append([]rune(nil), w...)
		}
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}
