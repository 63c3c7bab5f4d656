// Package suppress reads and applies suppression (baseline) files, so
// that CI can adopt the scan on an existing estate: known findings are
// accepted with a written justification, optionally until a date, and
// only new ones fail the build.
//
//	version: 1
//	suppressions:
//	  - rule: schema.open_additional_properties   # a rule ID, or a prefix ending in *
//	    server: github                            # optional; * wildcards
//	    tool: create_issue                        # optional; * wildcards
//	    justification: schemas come from the vendor; tracked in SEC-123
//	    expires: 2026-12-31                       # optional
//	  - fingerprint: 3f1a9be0c4d2e5f60718293a4b5c6d7e   # from the JSON or SARIF report
//	    justification: accepted risk, see SEC-99
//
// The file is decoded strictly: unknown keys, a missing justification
// and an entry that matches nothing by construction (no rule and no
// fingerprint) are errors naming the line. An expired suppression no
// longer hides anything and is itself reported, so the acceptance is
// reviewed again rather than forgotten.
package suppress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
)

// Version is the file format version this package reads and writes.
const Version = 1

// Expired is the rule ID of the finding that reports an expired
// suppression.
const Expired = "suppress.expired"

// Rules documents the rule of this package.
func Rules() []report.Rule {
	return []report.Rule{{ID: Expired, Category: finding.Hygiene, Severity: finding.Low, Summary: "a suppression has expired"}}
}

// File is a suppression file.
type File struct {
	Version      int           `yaml:"version"`
	Suppressions []Suppression `yaml:"suppressions"`
}

// Suppression accepts the findings it matches. Every criterion given
// must match.
type Suppression struct {
	Rule          string `yaml:"rule,omitempty"`
	Server        string `yaml:"server,omitempty"`
	Tool          string `yaml:"tool,omitempty"`
	Fingerprint   string `yaml:"fingerprint,omitempty"`
	Justification string `yaml:"justification"`
	Expires       Date   `yaml:"expires,omitempty"`
	// Line is where the entry starts in the file, for messages.
	Line int `yaml:"-"`
}

// Date is a calendar day (or an RFC 3339 time) after which a
// suppression expires; the zero Date never expires.
type Date struct{ time.Time }

// UnmarshalYAML accepts 2026-12-31 and RFC 3339 times.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expires: want a date like 2026-12-31", n.Line)
	}
	t, err := ParseDate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: expires: %w", n.Line, err)
	}
	d.Time = t
	return nil
}

// MarshalYAML writes the day.
func (d Date) MarshalYAML() (any, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.Format(time.DateOnly), nil
}

// IsZero reports whether the suppression never expires.
func (d Date) IsZero() bool { return d.Time.IsZero() }

// ParseDate parses 2026-12-31 (the end of that day, UTC) or an RFC 3339
// time.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Nanosecond), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date like 2026-12-31 or an RFC 3339 time", s)
}

// Load reads a suppression file.
func Load(p string) (*File, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read suppression file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

// Parse decodes and validates a suppression file.
func Parse(data []byte) (*File, error) {
	var root yaml.Node
	d := yaml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty suppression file (want version: 1)")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := d.Decode(&extra); err == nil {
		return nil, fmt.Errorf("line %d: a second YAML document", extra.Line)
	}
	var f File
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		return nil, err
	}
	if f.Version != Version {
		return nil, fmt.Errorf("version %d: this mcpwarden reads suppression files of version %d", f.Version, Version)
	}
	// Recover each entry's line from the node tree.
	if len(root.Content) == 1 {
		for i := 0; i+1 < len(root.Content[0].Content); i += 2 {
			if root.Content[0].Content[i].Value == "suppressions" {
				for j, item := range root.Content[0].Content[i+1].Content {
					if j < len(f.Suppressions) {
						f.Suppressions[j].Line = item.Line
					}
				}
			}
		}
	}
	for i, s := range f.Suppressions {
		at := fmt.Sprintf("suppression %d (line %d)", i+1, s.Line)
		if s.Rule == "" && s.Fingerprint == "" {
			return nil, fmt.Errorf("%s: give a rule or a fingerprint", at)
		}
		if strings.TrimSpace(s.Justification) == "" {
			return nil, fmt.Errorf("%s: a justification is required", at)
		}
		for _, g := range []string{s.Rule, s.Server, s.Tool} {
			if _, err := path.Match(g, ""); err != nil {
				return nil, fmt.Errorf("%s: bad pattern %q", at, g)
			}
		}
	}
	return &f, nil
}

// Encode renders the file as YAML.
func (f *File) Encode() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# mcpwarden suppressions: each entry needs a justification; expires is optional.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	out := *f
	out.Version = Version
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode suppressions: %w", err)
	}
	return buf.Bytes(), nil
}

// matches reports whether s accepts f.
func (s *Suppression) matches(f *finding.Finding) bool {
	if s.Fingerprint != "" && !strings.EqualFold(s.Fingerprint, report.Fingerprint(*f)) {
		return false
	}
	return glob(s.Rule, f.RuleID) && glob(s.Server, f.Server) && glob(s.Tool, f.Tool)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// Outcome is what applying a file did.
type Outcome struct {
	Suppressed int
	// Expired are the suppressions past their date; they suppressed
	// nothing.
	Expired []Suppression
	// Unused are live suppressions that matched no finding.
	Unused []Suppression
}

// Apply removes the findings the file accepts from r, counts them in
// r.Suppressed, and adds a finding for each expired suppression.
func (f *File) Apply(r *report.Report, now time.Time) Outcome {
	var o Outcome
	used := make([]bool, len(f.Suppressions))
	filter := func(fs []finding.Finding) []finding.Finding {
		kept := fs[:0:0]
		for _, x := range fs {
			hidden := false
			for i := range f.Suppressions {
				s := &f.Suppressions[i]
				if !s.Expires.IsZero() && now.After(s.Expires.Time) {
					continue
				}
				if s.matches(&x) {
					used[i], hidden = true, true
					break
				}
			}
			if hidden {
				o.Suppressed++
			} else {
				kept = append(kept, x)
			}
		}
		return kept
	}
	for i := range r.Servers {
		r.Servers[i].Findings = filter(r.Servers[i].Findings)
	}
	r.CrossServer = filter(r.CrossServer)
	for i, s := range f.Suppressions {
		switch {
		case !s.Expires.IsZero() && now.After(s.Expires.Time):
			o.Expired = append(o.Expired, s)
			r.CrossServer = append(r.CrossServer, expiredFinding(s))
		case !used[i]:
			o.Unused = append(o.Unused, s)
		}
	}
	r.Suppressed += o.Suppressed
	return o
}

func expiredFinding(s Suppression) finding.Finding {
	what := s.Rule
	if what == "" {
		what = "fingerprint " + s.Fingerprint
	}
	where := strings.Trim(s.Server+"/"+s.Tool, "/")
	if where != "" {
		what += " on " + where
	}
	return finding.Finding{
		RuleID: Expired, Category: finding.Hygiene, Severity: finding.Low, Confidence: 1,
		Server: s.Server, Tool: s.Tool,
		Title:  fmt.Sprintf("Suppression of %s expired on %s", what, s.Expires.Format(time.DateOnly)),
		Detail: "The findings it covered are reported again. Fix them, or review the acceptance and extend the date.",
		Evidence: []finding.Evidence{{Field: fmt.Sprintf("suppressions[line %d]", s.Line), Text: s.Justification,
			Note: "expired " + s.Expires.Format(time.DateOnly)}},
	}
}

// Baseline accepts every finding of r by fingerprint, with one
// justification, for adopting the scan on an existing estate.
func Baseline(r *report.Report, justification string, expires time.Time) *File {
	f := &File{Version: Version}
	seen := map[string]bool{}
	for _, x := range r.AllFindings() {
		fp := report.Fingerprint(x)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		f.Suppressions = append(f.Suppressions, Suppression{Rule: quoteGlob(x.RuleID), Server: quoteGlob(x.Server), Tool: quoteGlob(x.Tool), Fingerprint: fp,
			Justification: justification, Expires: Date{expires}})
	}
	return f
}

// quoteGlob escapes the pattern characters of a literal name.
func quoteGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
