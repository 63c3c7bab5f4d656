package suppress

import (
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/report"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, err string }{
		{"empty", "", "empty suppression file"},
		{"version", "version: 2\n", "version 2"},
		{"unknown key", "version: 1\nsuppressions:\n  - rule: a.b\n    justification: x\n    reason: y\n", "field reason not found"},
		{"no justification", "version: 1\nsuppressions:\n  - rule: a.b\n", "suppression 1 (line 3): a justification is required"},
		{"no criteria", "version: 1\nsuppressions:\n  - server: s\n    justification: x\n", "give a rule or a fingerprint"},
		{"bad date", "version: 1\nsuppressions:\n  - rule: a.b\n    justification: x\n    expires: next week\n", `"next week"`},
		{"bad pattern", "version: 1\nsuppressions:\n  - rule: \"[\"\n    justification: x\n", "bad pattern"},
		{"two documents", "version: 1\n---\nversion: 1\n", "second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.err)
			}
		})
	}
}

func TestApply(t *testing.T) {
	f, err := Parse([]byte(`version: 1
suppressions:
  - rule: schema.*
    server: gh
    justification: vendor schemas
  - rule: auth.unauthenticated
    justification: loopback only
    expires: 2026-01-31
  - fingerprint: ` + report.Fingerprint(finding.Finding{RuleID: "x.y", Server: "db"}) + `
    justification: accepted
  - rule: never.matches
    justification: stale
`))
	if err != nil {
		t.Fatal(err)
	}
	r := &report.Report{Servers: []report.Server{
		{Name: "gh", Findings: []finding.Finding{{RuleID: "schema.unconstrained_path", Server: "gh"}, {RuleID: "auth.unauthenticated", Server: "gh"}}},
		{Name: "db", Findings: []finding.Finding{{RuleID: "x.y", Server: "db"}, {RuleID: "schema.exfil_channel", Server: "db"}}},
	}}
	o := f.Apply(r, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	if o.Suppressed != 2 || r.Suppressed != 2 {
		t.Errorf("suppressed = %d, want 2", o.Suppressed)
	}
	var left []string
	for _, x := range r.AllFindings() {
		left = append(left, x.RuleID)
	}
	if strings.Join(left, ",") != "auth.unauthenticated,schema.exfil_channel,suppress.expired" {
		t.Errorf("left = %v, want the expired suppression's finding back, db's other finding, and the expiry", left)
	}
	if len(o.Expired) != 1 || len(o.Unused) != 1 || o.Unused[0].Rule != "never.matches" {
		t.Errorf("expired %v, unused %v", o.Expired, o.Unused)
	}
	// The day named is the last day it applies.
	o = f.Apply(&report.Report{Servers: []report.Server{{Name: "gh", Findings: []finding.Finding{{RuleID: "auth.unauthenticated"}}}}}, time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC))
	if o.Suppressed != 1 || len(o.Expired) != 0 {
		t.Errorf("on its last day: suppressed %d, expired %d; want 1, 0", o.Suppressed, len(o.Expired))
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	r := &report.Report{Servers: []report.Server{{Name: "we*rd", Findings: []finding.Finding{{RuleID: "a.b", Server: "we*rd", Tool: "t[1]"}}}}}
	data, err := Baseline(r, "adopted", time.Time{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Baseline) = %v\n%s", err, data)
	}
	if o := f.Apply(r, time.Now()); o.Suppressed != 1 {
		t.Errorf("baseline suppressed %d of its own findings, want 1\n%s", o.Suppressed, data)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"version: 1\nsuppressions:\n  - rule: a.b\n    justification: x\n    expires: 2026-12-31\n",
		"version: 1\nsuppressions: []\n", "{\"version\":1,\"suppressions\":[{\"fingerprint\":\"ab\",\"justification\":\"j\"}]}",
		"version: 1\nsuppressions:\n  - rule: \"*\"\n    justification: \"\\0\"\n", "&a [*a]", "version: !!binary AQ==\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range sf.Suppressions {
			if s.Justification == "" || (s.Rule == "" && s.Fingerprint == "") {
				t.Fatalf("Parse accepted %+v", s)
			}
		}
		r := &report.Report{Servers: []report.Server{{Name: "s", Findings: []finding.Finding{{RuleID: "a.b", Server: "s"}}}}}
		sf.Apply(r, time.Now())
	})
}
