package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("config.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("config.schema.json")
	if err != nil {
		t.Fatalf("compiling schema: %v", err)
	}
	return s
}

func yamlToJSON(t *testing.T, file string) any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaAgreesWithParser checks that the editor schema accepts what
// Parse accepts and rejects the structural mistakes Parse rejects.
func TestSchemaAgreesWithParser(t *testing.T) {
	s := compileSchema(t)
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range valid {
		if err := s.Validate(yamlToJSON(t, f)); err != nil {
			t.Errorf("schema rejects valid %s: %v", f, err)
		}
	}
	for _, name := range []string{"typo", "types", "noversion", "badversion", "transports", "policykeys", "content"} {
		f := "testdata/errors/" + name + ".yaml"
		if err := s.Validate(yamlToJSON(t, f)); err == nil {
			t.Errorf("schema accepts invalid %s", f)
		}
	}
}
