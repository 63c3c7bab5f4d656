package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDebugIDs(t *testing.T) {
	ids := os.Getenv("IDS")
	if ids == "" {
		t.Skip()
	}
	want := map[string]bool{}
	for _, id := range strings.Split(ids, ",") {
		want[id] = true
	}
	e, _ := New(Options{})
	dir := sharedDir(t)
	for _, r := range readJSONL[toolRecord](t, filepath.Join(dir, "data", "tools", "dev.jsonl")) {
		if want[r.ID] {
			v, _ := e.InspectTool(r.Tool)
			t.Logf("== %s %s score=%.2f", r.ID, r.Label, v.Score)
			for _, f := range v.Findings {
				for _, ev := range f.Evidence {
					t.Logf("   %s %.2f [%s] %q %s", f.RuleID, f.Confidence, ev.Field, ev.Text, ev.Note)
				}
			}
		}
	}
	for _, r := range readJSONL[textRecord](t, filepath.Join(dir, "data", "texts", "dev.jsonl")) {
		if want[r.ID] {
			v := e.InspectText(Result, r.Text)
			t.Logf("== %s %s score=%.2f", r.ID, r.Label, v.Score)
			for _, f := range v.Findings {
				for _, ev := range f.Evidence {
					t.Logf("   %s %.2f %q %s", f.RuleID, f.Confidence, ev.Text, ev.Note)
				}
			}
		}
	}
}

func TestDebugRuleFreq(t *testing.T) {
	if os.Getenv("FREQ") == "" {
		t.Skip()
	}
	e, _ := New(Options{})
	dir := sharedDir(t)
	pos, neg := map[string]int{}, map[string]int{}
	for _, r := range readJSONL[toolRecord](t, filepath.Join(dir, "data", "tools", "dev.jsonl")) {
		v, _ := e.InspectTool(r.Tool)
		for _, f := range v.Findings {
			if r.Label == "poisoned" {
				pos[f.RuleID]++
			} else {
				neg[f.RuleID]++
				if os.Getenv("FREQ") == f.RuleID {
					for _, ev := range f.Evidence {
						t.Logf("%s %q", r.ID, ev.Text)
					}
				}
			}
		}
	}
	for _, r := range e.Rules() {
		if pos[r.ID]+neg[r.ID] > 0 {
			t.Logf("tools %-36s poisoned %3d benign %3d", r.ID, pos[r.ID], neg[r.ID])
		}
	}
	pos, neg = map[string]int{}, map[string]int{}
	for _, r := range readJSONL[textRecord](t, filepath.Join(dir, "data", "texts", "dev.jsonl")) {
		v := e.InspectText(Result, r.Text)
		for _, f := range v.Findings {
			if r.Label == "injection" {
				pos[f.RuleID]++
			} else {
				neg[f.RuleID]++
				if os.Getenv("FREQ") == f.RuleID {
					for _, ev := range f.Evidence {
						t.Logf("%s %q", r.ID, ev.Text)
					}
				}
			}
		}
	}
	for _, r := range e.Rules() {
		if pos[r.ID]+neg[r.ID] > 0 {
			t.Logf("texts %-36s injected %3d benign %3d", r.ID, pos[r.ID], neg[r.ID])
		}
	}
}
