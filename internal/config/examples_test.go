package config

import (
	"path/filepath"
	"testing"
)

// TestExamples loads every example configuration shipped in examples/:
// they must stay valid as the format changes.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	s := compileSchema(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Errorf("Load(%s) = %v", f, err)
			}
			if err := s.Validate(yamlToJSON(t, f)); err != nil {
				t.Errorf("the schema rejects %s: %v", f, err)
			}
		})
	}
}
