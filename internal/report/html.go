package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"

	"mcpwarden/internal/finding"
)

// One self-contained HTML file: inline CSS, no external fetches, content
// readable without JavaScript. html/template escapes every value by
// context; on top of that, untrusted text goes through reveal so hidden and
// bidi characters show as marked stand-ins instead of acting on the page,
// and a Content-Security-Policy allows no script but our own inline one.

//go:embed html.tmpl
var htmlSource string

// htmlScript only adds severity filtering; the report is complete without it.
const htmlScript = `
document.documentElement.classList.add('js');
document.querySelectorAll('[data-filter]').forEach(function (b) {
  b.addEventListener('click', function () {
    var on = b.getAttribute('aria-pressed') !== 'true';
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    document.body.classList.toggle('hide-' + b.getAttribute('data-filter'), !on);
  });
});
`

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"u":  func(s string) template.HTML { return revealHTML(s, false) },
	"r":  func(s string) string { return revealed(s, false) }, // for attributes and <title>
	"um": func(s string) template.HTML { return revealHTML(s, true) },
}).Parse(htmlSource))

// revealHTML escapes untrusted text for HTML text content, wrapping the
// stand-ins for hidden characters in a marked span.
func revealHTML(s string, multiline bool) template.HTML {
	var b strings.Builder
	for _, seg := range reveal(s, multiline) {
		if seg.hidden {
			b.WriteString(`<span class="hid" title="hidden characters">`)
			b.WriteString(template.HTMLEscapeString(seg.text))
			b.WriteString(`</span>`)
		} else {
			b.WriteString(template.HTMLEscapeString(seg.text))
		}
	}
	return template.HTML(b.String()) // #nosec: every piece escaped above
}

type htmlView struct {
	Meta       []string
	Summary    Summary
	Cards      []htmlCard
	Categories []catCount
	Servers    []htmlServer
	Cross      []htmlFinding
	CrossCount string
	CapHeaders []string
	Script     template.JS
	CSP        string
}

type htmlCard struct {
	Class, Label string
	Count        int
}

type htmlServer struct {
	ID, Name, Status, StatusClass, Reason string
	Reviewed                              bool
	Rows                                  []htmlRow
	Instructions                          string
	Inventory                             string
	Tools                                 []htmlTool
	Prompts                               []htmlItem
	Resources                             []htmlItem
	Templates                             []htmlItem
	Findings                              []htmlFinding
	FindingCount                          string
	Worst                                 string
}

type htmlRow struct{ Label, Value string }

type htmlTool struct {
	Signature, Title, Description string
	Caps                          []bool
	Flow                          []string
}

type htmlItem struct{ Name, Description string }

type htmlFinding struct {
	Sev, SevLabel, RuleID, Category, Where, Title, Detail, Confidence, DocURL, Fingerprint string
	Evidence                                                                               []htmlEvidence
}

type htmlEvidence struct {
	Field, Span, Text, Previous, Note string
}

func renderHTML(w io.Writer, r *Report, o RenderOptions) error {
	sum := Summarize(r)
	v := htmlView{
		Meta:       runMeta(r),
		Summary:    sum,
		CapHeaders: make([]string, len(Capabilities)),
		Script:     template.JS(htmlScript),
	}
	for i, c := range Capabilities {
		v.CapHeaders[i] = strings.ReplaceAll(string(c), "_", " ")
	}
	hash := sha256.Sum256([]byte(htmlScript))
	v.CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" +
		base64.StdEncoding.EncodeToString(hash[:]) + "'; base-uri 'none'; form-action 'none'"
	for _, s := range severities {
		v.Cards = append(v.Cards, htmlCard{Class: s.String(), Label: s.String(), Count: sum.BySeverity[s.String()]})
	}
	v.Categories = categoryCounts(r.AllFindings())
	for i, s := range r.Servers {
		v.Servers = append(v.Servers, htmlServerFor(i, s, o))
	}
	for _, f := range r.CrossServer {
		v.Cross = append(v.Cross, htmlFindingFor(f, true, o))
	}
	v.CrossCount = fmt.Sprintf("%d %s", len(v.Cross), plural(len(v.Cross), "finding", "findings"))
	return htmlTemplate.Execute(w, v)
}

func htmlServerFor(i int, s Server, o RenderOptions) htmlServer {
	h := htmlServer{
		ID:       fmt.Sprintf("server-%d", i+1),
		Name:     s.Name,
		Status:   string(s.Status),
		Reviewed: s.Status.Reviewed(),
		Reason:   s.Reason,
	}
	h.StatusClass = h.Status
	if !h.Reviewed {
		h.Status, h.StatusClass = "not scanned", "not_scanned"
		if h.Reason == "" {
			h.Reason = "no reason recorded"
		}
	}
	add := func(label, value string) {
		if value != "" {
			h.Rows = append(h.Rows, htmlRow{label, value})
		}
	}
	add("Source", sourceText(s.Source))
	add("Launch", launchText(s))
	add("Server", infoText(s.Info))
	h.Instructions = s.Info.Instructions
	if h.Reviewed {
		h.Inventory = inventoryText(s)
	}
	for _, t := range s.Tools {
		ht := htmlTool{Signature: signature(t), Title: t.Title, Description: clip(t.Description, 2000)}
		for _, c := range Capabilities {
			ht.Caps = append(ht.Caps, t.hasCapability(c))
		}
		if fl := flowText(t.FlowLabels); fl != "" {
			ht.Flow = strings.Split(fl, ",")
		}
		h.Tools = append(h.Tools, ht)
	}
	for _, p := range s.Prompts {
		h.Prompts = append(h.Prompts, htmlItem{p.Name + "(" + strings.Join(p.Arguments, ", ") + ")", p.Description})
	}
	for _, r := range s.Resources {
		d := r.Name
		if r.MIMEType != "" {
			d = strings.TrimSpace(d + " · " + r.MIMEType)
		}
		h.Resources = append(h.Resources, htmlItem{r.URI, d})
	}
	for _, r := range s.ResourceTemplates {
		h.Templates = append(h.Templates, htmlItem{r.URITemplate, r.Name})
	}
	for _, f := range s.Findings {
		h.Findings = append(h.Findings, htmlFindingFor(f, false, o))
	}
	h.FindingCount = fmt.Sprintf("%d %s", len(s.Findings), plural(len(s.Findings), "finding", "findings"))
	if len(s.Findings) > 0 {
		h.Worst = s.Findings[0].Severity.String() // sorted most severe first
	}
	return h
}

func htmlFindingFor(f finding.Finding, withServer bool, o RenderOptions) htmlFinding {
	h := htmlFinding{
		Sev:         f.Severity.String(),
		SevLabel:    strings.ToUpper(f.Severity.String()),
		RuleID:      f.RuleID,
		Category:    string(f.Category),
		Where:       f.Tool,
		Title:       f.Title,
		Detail:      f.Detail,
		DocURL:      o.docsURL() + "#" + RuleAnchor(f.RuleID),
		Fingerprint: Fingerprint(f),
	}
	if withServer && f.Server != "" {
		h.Where = f.Server
		if f.Tool != "" {
			h.Where += "/" + f.Tool
		}
	}
	if f.Confidence > 0 && f.Confidence < 1 {
		h.Confidence = fmt.Sprintf("%d%% confidence", int(f.Confidence*100+0.5))
	}
	for _, e := range f.Evidence {
		he := htmlEvidence{Field: e.Field, Text: clip(e.Text, 4000), Previous: clip(e.Previous, 4000), Note: e.Note}
		if he.Field == "" {
			he.Field = "evidence"
		}
		if e.Span != nil {
			he.Span = fmt.Sprintf("bytes %d–%d", e.Span.Start, e.Span.End)
		}
		h.Evidence = append(h.Evidence, he)
	}
	return h
}
