package scan

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mcpwarden/internal/report"
)

// TestEveryRuleDocumented keeps docs/scan.md in step with the rules the
// scan can emit: each has a heading whose anchor is what the report
// renderers link to (report.RuleAnchor), followed by its paragraph naming
// the category.
func TestEveryRuleDocumented(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "scan.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	var doc strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		doc.WriteString(line + "\n")
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[report.RuleAnchor(strings.ReplaceAll(h, "`", ""))] = true
		}
	}
	rules := Rules()
	if len(rules) < 40 {
		t.Fatalf("Rules() lists %d rules; the list is incomplete", len(rules))
	}
	for _, r := range rules {
		if !anchors[report.RuleAnchor(r.ID)] {
			t.Errorf("docs/scan.md has no heading for %s (want ### `%s`)", r.ID, r.ID)
		}
		if !strings.Contains(doc.String(), "**`"+r.ID+"`** ("+string(r.Category)) {
			t.Errorf("docs/scan.md has no paragraph for %s starting **`%s`** (%s, ...", r.ID, r.ID, r.Category)
		}
	}
}

// TestRulesAreConsistent checks the rule list as a set: IDs unique,
// dotted and lower-case, categories known.
func TestRulesAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.ID != strings.ToLower(r.ID) || !strings.Contains(r.ID, ".") || strings.ContainsAny(r.ID, " /") {
			t.Errorf("rule ID %q is not dotted lower case", r.ID)
		}
		if !r.Category.Valid() || r.Summary == "" {
			t.Errorf("rule %s: category %q, summary %q", r.ID, r.Category, r.Summary)
		}
	}
}
