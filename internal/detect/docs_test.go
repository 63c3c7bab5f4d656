package detect

import (
	"os"
	"strings"
	"testing"
)

// TestDocsListEveryRule keeps docs/detection.md in step with the pack:
// every rule ID must be listed there.
func TestDocsListEveryRule(t *testing.T) {
	doc, err := os.ReadFile("../../docs/detection.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range testEngine(t).Rules() {
		if !strings.Contains(string(doc), "`"+r.ID+"`") {
			t.Errorf("docs/detection.md does not list rule %s", r.ID)
		}
	}
}
