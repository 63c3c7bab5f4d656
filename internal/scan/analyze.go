package scan

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"mcpwarden/internal/capability"
	"mcpwarden/internal/discover"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/launch"
	"mcpwarden/internal/report"
	"mcpwarden/internal/schemareview"
	"mcpwarden/internal/shadow"
	"mcpwarden/internal/toxicflow"
)

func newFinding(r report.Rule, server, tool, title, detail string) finding.Finding {
	return finding.Finding{RuleID: r.ID, Category: r.Category, Severity: r.Severity, Confidence: 1, Server: server, Tool: tool, Title: title, Detail: detail}
}

func evidence(field, text, note string) finding.Evidence {
	return finding.Evidence{Field: field, Text: text, Note: note}
}

// analyze runs the per-server analyses over what was listed and fills in
// the inventory.
func (o *Options) analyze(s *server) {
	name := s.rep.Name
	add := func(item string, fs []finding.Finding) {
		for _, f := range fs {
			f.Server = name
			if f.Tool == "" {
				f.Tool = item
			}
			s.rep.Findings = append(s.rep.Findings, f)
		}
	}
	s.rep.Tools = make([]report.Tool, 0, len(s.tools))
	s.labels = s.labels[:0]
	for i := range s.tools {
		t := &s.tools[i]
		p := capability.Classify(t)
		labels := toxicflow.Label(t, &p)
		s.labels = append(s.labels, labels)
		s.rep.Tools = append(s.rep.Tools, report.Tool{Name: t.Name, Title: t.Title, Description: t.Description,
			Parameters: t.TopLevel(), Capabilities: p.Caps, Annotations: t.Annotations, FlowLabels: labels.List()})
		add(t.Name, schemareview.Review(name, t, &p))
		if o.Inspector != nil {
			fs, err := o.Inspector.InspectTool(t.Raw)
			if err != nil {
				add(t.Name, []finding.Finding{unreadable(name, t.Name, "tool", err)})
			}
			add(t.Name, fs)
		}
	}
	s.rep.Findings = append(s.rep.Findings, schemareview.OpenSchemas(name, s.tools)...)
	for _, raw := range s.prompts {
		var p struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Arguments   []struct {
				Name string `json:"name"`
			} `json:"arguments"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			add("", []finding.Finding{unreadable(name, "", "prompt", err)})
			continue
		}
		rp := report.Prompt{Name: p.Name, Description: p.Description}
		for _, a := range p.Arguments {
			rp.Arguments = append(rp.Arguments, a.Name)
		}
		s.rep.Prompts = append(s.rep.Prompts, rp)
		o.inspect(name, p.Name, raw, o.inspectPrompt, add)
	}
	for _, raw := range s.resources {
		var r struct{ URI, Name, MIMEType string }
		_ = json.Unmarshal(raw, &r)
		s.rep.Resources = append(s.rep.Resources, report.Resource{URI: r.URI, Name: r.Name, MIMEType: r.MIMEType})
		o.inspect(name, orDefault(r.Name, r.URI), raw, o.inspectResource, add)
	}
	for _, raw := range s.templates {
		var r struct{ URITemplate, Name string }
		_ = json.Unmarshal(raw, &r)
		s.rep.ResourceTemplates = append(s.rep.ResourceTemplates, report.ResourceTemplate{URITemplate: r.URITemplate, Name: r.Name})
		o.inspect(name, orDefault(r.Name, r.URITemplate), raw, o.inspectResource, add)
	}
	if s.instructions != "" && o.Inspector != nil {
		fs := o.Inspector.InspectInstructions(s.instructions)
		for i := range fs {
			fs[i].Tool = ""
		}
		for _, f := range fs {
			f.Server = name
			s.rep.Findings = append(s.rep.Findings, f)
		}
	}
	if o.Lock != nil && s.first != nil {
		changes, known := o.Lock.Check(s.first)
		if !known {
			changes = changes[:0]
			r := ruleDefault(RugNotPinned)
			f := newFinding(r, name, "", "Server is not in the lockfile",
				"It was never pinned, so a later change to its definitions cannot be detected. Run `mcpwarden pin` to record them.")
			f.Evidence = []finding.Evidence{evidence("lockfile", s.first.Key, "no entry for this server")}
			s.rep.Findings = append(s.rep.Findings, f)
		}
		s.rep.Findings = append(s.rep.Findings, changeFindings(name, changes, false)...)
	}
}

func (o *Options) inspectPrompt(raw []byte) ([]finding.Finding, error) {
	return o.Inspector.InspectPrompt(raw)
}

func (o *Options) inspectResource(raw []byte) ([]finding.Finding, error) {
	return o.Inspector.InspectResource(raw)
}

func (o *Options) inspect(server, item string, raw []byte, fn func([]byte) ([]finding.Finding, error), add func(string, []finding.Finding)) {
	if o.Inspector == nil {
		return
	}
	fs, err := fn(raw)
	if err != nil {
		add(item, []finding.Finding{unreadable(server, item, "definition", err)})
	}
	add(item, fs)
}

// uniqueNames makes server names unique within each group, so that the
// cross-server analyses (and readers) can tell two "github" servers of
// one client apart.
func uniqueNames(servers []*server) {
	seen := map[[2]string]int{}
	for _, s := range servers {
		k := [2]string{s.t.Group, s.rep.Name}
		seen[k]++
		if n := seen[k]; n > 1 {
			base := s.rep.Name
			suffix := filepath.Base(s.rep.Source.Path)
			if suffix == "." || suffix == "" {
				suffix = fmt.Sprint(n)
			}
			s.rep.Name = fmt.Sprintf("%s (%s)", base, suffix)
			for seen[[2]string{s.t.Group, s.rep.Name}] > 0 {
				s.rep.Name = fmt.Sprintf("%s (%s %d)", base, suffix, n)
				n++
			}
			seen[[2]string{s.t.Group, s.rep.Name}]++
			for i := range s.rep.Findings {
				if s.rep.Findings[i].Server == base {
					s.rep.Findings[i].Server = s.rep.Name
				}
			}
		}
	}
}

// crossServer runs the analyses over each client's reviewed servers.
func (o *Options) crossServer(servers []*server) []finding.Finding {
	groups := map[string][]*server{}
	for _, s := range servers {
		if s.rep.Status.Reviewed() {
			groups[s.t.Group] = append(groups[s.t.Group], s)
		}
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	var cross []finding.Finding
	for _, g := range names {
		members := groups[g]
		byName := map[string]*server{}
		var sh []shadow.Server
		var flows []toxicflow.Tool
		for _, s := range members {
			byName[s.rep.Name] = s
			ss := shadow.Server{Name: s.rep.Name, Instructions: s.instructions}
			for i, t := range s.tools {
				ss.Tools = append(ss.Tools, shadow.Tool{Name: t.Name, Description: t.Description})
				if i < len(s.labels) {
					flows = append(flows, toxicflow.Tool{Server: s.rep.Name, Name: t.Name, Labels: s.labels[i]})
				}
			}
			sh = append(sh, ss)
		}
		group := g
		if group == "" {
			group = CommandLine
		}
		per, c := shadow.Analyze(group, sh)
		cross = append(cross, c...)
		per2, c2 := toxicflow.Analyze(group, flows)
		cross = append(cross, c2...)
		for _, m := range []map[string][]finding.Finding{per, per2} {
			for name, fs := range m {
				if s := byName[name]; s != nil {
					s.rep.Findings = append(s.rep.Findings, fs...)
				}
			}
		}
	}
	return cross
}

// ReadablePaths are the host paths a launched stdio server needs to
// see to start at all: the script or directory its command names and
// its working directory. The CLI adds them read-only to the sandbox
// profile; nothing else of the host becomes visible.
func ReadablePaths(d *discover.Server) []string {
	var out []string
	l := launch.Parse(d.Command, d.Args).Effective()
	if l.Script != "" {
		p := l.Script
		if !filepath.IsAbs(p) && d.Cwd != "" {
			p = filepath.Join(d.Cwd, p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			out = append(out, filepath.Dir(abs))
		}
	}
	if d.Cwd != "" {
		if abs, err := filepath.Abs(d.Cwd); err == nil {
			out = append(out, abs)
		}
	}
	return out
}
