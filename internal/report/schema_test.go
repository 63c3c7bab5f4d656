package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"mcpwarden/internal/finding"
)

// noLoader refuses every URL: the schemas under test must be complete in
// themselves, and a test must never fetch a remote $ref.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("schema loading disabled: " + url)
}

// compileSchema compiles the JSON Schema in file, registered under its own
// $id, with format assertions on.
func compileSchema(tb testing.TB, file string) *jsonschema.Schema {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatalf("parse %s: %v", file, err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	if id == "" {
		tb.Fatalf("%s has no $id", file)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		tb.Fatalf("compile %s: %v", file, err)
	}
	return s
}

var (
	reportSchemaOnce sync.Once
	reportSchema     *jsonschema.Schema
	sarifSchemaOnce  sync.Once
	sarifSchemaC     *jsonschema.Schema
)

func reportSchemaFor(tb testing.TB) *jsonschema.Schema {
	reportSchemaOnce.Do(func() { reportSchema = compileSchema(tb, filepath.Join("..", "..", "docs", "report.schema.json")) })
	return reportSchema
}

func sarifSchemaFor(tb testing.TB) *jsonschema.Schema {
	sarifSchemaOnce.Do(func() { sarifSchemaC = compileSchema(tb, filepath.Join("testdata", "sarif-schema-2.1.0.json")) })
	return sarifSchemaC
}

// validateJSON checks that out is one JSON document valid against s.
func validateJSON(tb testing.TB, s *jsonschema.Schema, out []byte) error {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		return err
	}
	return s.Validate(doc)
}

// schemaReports are reports every format must render validly: the rich
// fixture, an empty report, and one whose lists are all nil.
func schemaReports() map[string]*Report {
	return map[string]*Report{
		"fixture": fixture(),
		"empty":   {},
		"nil lists": {Servers: []Server{{Name: "x", Status: Scanned, Findings: []finding.Finding{{RuleID: "r.x", Category: finding.Hygiene}}}},
			CrossServer: []finding.Finding{{RuleID: "r.y", Category: finding.ToxicFlow, Severity: finding.Critical}}},
		"unknown status": {Servers: []Server{{Name: "odd", Status: "half_done"}}},
	}
}

func TestJSONMatchesPublishedSchema(t *testing.T) {
	s := reportSchemaFor(t)
	for name, r := range schemaReports() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, r, "json", RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(t, s, buf.Bytes()); err != nil {
				t.Errorf("Render(%s, json) does not match docs/report.schema.json: %v", name, err)
			}
		})
	}
}

func TestSchemaRejectsDrift(t *testing.T) {
	// The schema is strict, so it must reject documents the code would
	// never write; otherwise the validation above proves little.
	s := reportSchemaFor(t)
	var buf bytes.Buffer
	if err := Render(&buf, fixture(), "json", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"wrong schema_version", func(m map[string]any) { m["schema_version"] = "mcpwarden.report/v0" }},
		{"unknown top-level field", func(m map[string]any) { m["extra"] = 1 }},
		{"unknown severity", func(m map[string]any) {
			m["servers"].([]any)[0].(map[string]any)["findings"].([]any)[0].(map[string]any)["severity"] = "urgent"
		}},
		{"unknown status", func(m map[string]any) { m["servers"].([]any)[0].(map[string]any)["status"] = "clean" }},
		{"missing evidence", func(m map[string]any) {
			delete(m["cross_server_findings"].([]any)[0].(map[string]any), "evidence")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(m)
			b, _ := json.Marshal(m)
			if err := validateJSON(t, s, b); err == nil {
				t.Errorf("schema accepted a report with %s", tt.name)
			}
		})
	}
}

func TestSchemaVocabularyMatchesCode(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			Enum []string `json:"enum"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var cats, caps, sevs []string
	for _, c := range finding.Categories {
		cats = append(cats, string(c))
	}
	for _, c := range Capabilities {
		caps = append(caps, string(c))
	}
	for s := finding.Info; s <= finding.Critical; s++ {
		sevs = append(sevs, s.String())
	}
	for _, tt := range []struct {
		def  string
		want []string
	}{{"category", cats}, {"capability", caps}, {"severity", sevs}, {"status", []string{string(Scanned), string(Static), string(NotScanned)}}} {
		if got := doc.Defs[tt.def].Enum; !slices.Equal(got, tt.want) {
			t.Errorf("schema $defs.%s.enum = %v, want %v (update docs/report.schema.json)", tt.def, got, tt.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, fixture(), "json", RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decoding the JSON report back: %v", err)
	}
	want := normalized(fixture())
	if got.SchemaVersion != SchemaVersion || len(got.Servers) != len(want.Servers) || len(got.CrossServer) != len(want.CrossServer) {
		t.Fatalf("round trip lost data: %d servers, %d cross-server, version %q", len(got.Servers), len(got.CrossServer), got.SchemaVersion)
	}
	for i := range want.Servers {
		if g, w := got.Servers[i].Findings, want.Servers[i].Findings; len(g) != len(w) || (len(g) > 0 && g[0].String() != w[0].String()) {
			t.Errorf("server %s findings round-tripped to %v, want %v", want.Servers[i].Name, g, w)
		}
	}
	if !strings.Contains(buf.String(), `"severity": "critical"`) {
		t.Errorf("JSON report writes severities as %s, want names", buf.String()[:200])
	}
}
