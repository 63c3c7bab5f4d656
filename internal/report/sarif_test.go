package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"mcpwarden/internal/finding"
)

func renderSARIFLog(t *testing.T, r *Report) (sarifLog, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, "sarif", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatalf("SARIF output is not JSON: %v", err)
	}
	return log, buf.Bytes()
}

func TestSARIFMatchesOfficialSchema(t *testing.T) {
	s := sarifSchemaFor(t)
	for name, r := range schemaReports() {
		t.Run(name, func(t *testing.T) {
			_, out := renderSARIFLog(t, r)
			if err := validateJSON(t, s, out); err != nil {
				t.Errorf("Render(%s, sarif) is not valid SARIF 2.1.0: %v", name, err)
			}
		})
	}
}

func TestSARIFSchemaIsStrict(t *testing.T) {
	// A schema that accepts anything would make the test above vacuous.
	s := sarifSchemaFor(t)
	for _, bad := range []string{
		`{"version":"2.1.0"}`,
		`{"version":"2.0.0","runs":[]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
	} {
		if err := validateJSON(t, s, []byte(bad)); err == nil {
			t.Errorf("SARIF schema accepted %s", bad)
		}
	}
}

func TestSARIFContent(t *testing.T) {
	log, _ := renderSARIFLog(t, fixture())
	if len(log.Runs) != 1 {
		t.Fatalf("SARIF has %d runs, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	all := normalized(fixture()).AllFindings()
	if len(run.Results) != len(all) {
		t.Fatalf("SARIF has %d results, want %d", len(run.Results), len(all))
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 ||
		!strings.Contains(inv.ToolExecutionNotifications[0].Message.Text, `"broken-db" was NOT SCANNED`) {
		t.Errorf("invocation = %+v, want unsuccessful with a NOT SCANNED notification for broken-db", inv)
	}
	rules := map[string]sarifRule{}
	for i, r := range run.Tool.Driver.Rules {
		rules[r.ID] = r
		if i > 0 && run.Tool.Driver.Rules[i-1].ID >= r.ID {
			t.Errorf("rules not sorted: %s before %s", run.Tool.Driver.Rules[i-1].ID, r.ID)
		}
	}
	if r := rules["poison.hidden_instructions"]; r.HelpURI != DefaultDocsURL+"#poisonhidden_instructions" ||
		r.DefaultConfiguration.Level != "error" || r.Name != "PoisonHiddenInstructions" ||
		!strings.HasPrefix(r.FullDescription.Text, "Tool descriptions are read") {
		t.Errorf("rule poison.hidden_instructions = %+v, want metadata from Report.Rules", r)
	}
	if r := rules["ssrf.any_url"]; r.ShortDescription.Text != "Tool fetches any URL" {
		t.Errorf("rule ssrf.any_url short description = %q, want the finding title as fallback", r.ShortDescription.Text)
	}

	byRule := map[string]sarifResult{}
	for _, res := range run.Results {
		byRule[res.RuleID] = res
		if got := run.Tool.Driver.Rules[res.RuleIndex].ID; got != res.RuleID {
			t.Errorf("result %s has ruleIndex pointing at %s", res.RuleID, got)
		}
	}
	tests := []struct {
		rule, level, uri string
		line             int
		logical          string
	}{
		{"poison.hidden_instructions", "error", "file:///home/alice/.config/Claude/claude_desktop_config.json", 12, "demo/add"},
		{"path.traversal", "warning", "file:///home/alice/.config/Claude/claude_desktop_config.json", 12, "demo/read_file"},
		{"input.open_additional_properties", "note", "file:///home/alice/.config/Claude/claude_desktop_config.json", 12, "demo/send_email"},
		{"transport.plain_http", "error", ".cursor/mcp.json", 3, "remote-crm"},
		{"input.unconstrained_path", "note", "fixtures/filesystem.tools.json", 0, "filesystem/write_file"},
		{"flow.lethal_trifecta", "error", "", 0, "(cross-server)"},
	}
	for _, tt := range tests {
		res, ok := byRule[tt.rule]
		if !ok {
			t.Errorf("no result for %s", tt.rule)
			continue
		}
		if res.Level != tt.level {
			t.Errorf("%s level = %s, want %s", tt.rule, res.Level, tt.level)
		}
		loc := res.Locations[0]
		switch {
		case tt.uri == "" && loc.PhysicalLocation != nil:
			t.Errorf("%s has physical location %+v, want none", tt.rule, loc.PhysicalLocation)
		case tt.uri != "" && (loc.PhysicalLocation == nil || loc.PhysicalLocation.ArtifactLocation.URI != tt.uri):
			t.Errorf("%s physical location = %+v, want %s", tt.rule, loc.PhysicalLocation, tt.uri)
		case tt.line > 0 && (loc.PhysicalLocation.Region == nil || loc.PhysicalLocation.Region.StartLine != tt.line):
			t.Errorf("%s region = %+v, want startLine %d", tt.rule, loc.PhysicalLocation.Region, tt.line)
		case tt.line == 0 && loc.PhysicalLocation != nil && loc.PhysicalLocation.Region != nil:
			t.Errorf("%s region = %+v, want none", tt.rule, loc.PhysicalLocation.Region)
		}
		if last := loc.LogicalLocations[len(loc.LogicalLocations)-1]; last.FullyQualifiedName != tt.logical {
			t.Errorf("%s logical location = %s, want %s", tt.rule, last.FullyQualifiedName, tt.logical)
		}
		if fp := res.PartialFingerprints[fingerprintKey]; len(fp) != 32 {
			t.Errorf("%s fingerprint = %q, want 32 hex digits", tt.rule, fp)
		}
	}
}

func TestFingerprintStability(t *testing.T) {
	base := finding.Finding{RuleID: "cmdi.shell_param", Category: finding.CommandInjection, Severity: finding.High, Server: "demo", Tool: "fetch_logs",
		Title: "Parameter is interpolated", Evidence: []finding.Evidence{{Field: "inputSchema.properties.service", Text: "x"}}}
	want := Fingerprint(base)
	same := []func(f *finding.Finding){
		func(f *finding.Finding) { f.Title = "Parameter \"service\" reaches sh -c (seen 2026-11-25T10:00:00Z)" },
		func(f *finding.Finding) { f.Detail = "other words" },
		func(f *finding.Finding) { f.Severity = finding.Critical; f.Confidence = 0.3 },
		func(f *finding.Finding) {
			f.Evidence[0].Text = "reworded"
			f.Evidence[0].Span = &finding.Span{Start: 1, End: 2}
		},
		func(f *finding.Finding) { f.Evidence = append(f.Evidence, finding.Evidence{Field: "other"}) },
	}
	for i, m := range same {
		f := base
		f.Evidence = append([]finding.Evidence(nil), base.Evidence...)
		m(&f)
		if got := Fingerprint(f); got != want {
			t.Errorf("change %d altered the fingerprint: %s, want %s", i, got, want)
		}
	}
	differ := []func(f *finding.Finding){
		func(f *finding.Finding) { f.RuleID = "cmdi.other" },
		func(f *finding.Finding) { f.Server = "demo2" },
		func(f *finding.Finding) { f.Tool = "fetch_log" },
		func(f *finding.Finding) { f.Evidence[0].Field = "inputSchema.properties.unit" },
		// The separator keeps boundaries: "ab"+"c" is not "a"+"bc".
		func(f *finding.Finding) { f.Server, f.Tool = "demof", "etch_logs" },
	}
	for i, m := range differ {
		f := base
		f.Evidence = append([]finding.Evidence(nil), base.Evidence...)
		m(&f)
		if got := Fingerprint(f); got == want {
			t.Errorf("change %d kept the fingerprint %s, want a different one", i, got)
		}
	}
}

func TestRuleAnchorAndName(t *testing.T) {
	tests := []struct{ id, anchor, name string }{
		{"ssrf.any_url", "ssrfany_url", "SsrfAnyUrl"},
		{"poison.hidden-chars", "poisonhidden-chars", "PoisonHiddenChars"},
		{"Auth.Unauthenticated", "authunauthenticated", "AuthUnauthenticated"},
		{"<script>", "script", "Script"},
		{"...", "", "Rule"},
	}
	for _, tt := range tests {
		if got := RuleAnchor(tt.id); got != tt.anchor {
			t.Errorf("RuleAnchor(%q) = %q, want %q", tt.id, got, tt.anchor)
		}
		if got := ruleName(tt.id); got != tt.name {
			t.Errorf("ruleName(%q) = %q, want %q", tt.id, got, tt.name)
		}
	}
}

func TestFileURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/home/a/.claude.json", "file:///home/a/.claude.json"},
		{"/home/a b/%x#y.json", "file:///home/a%20b/%25x%23y.json"},
		{".cursor/mcp.json", ".cursor/mcp.json"},
		{"dir with space/x.json", "dir%20with%20space/x.json"},
	}
	for _, tt := range tests {
		if got := fileURI(tt.in); got != tt.want {
			t.Errorf("fileURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
