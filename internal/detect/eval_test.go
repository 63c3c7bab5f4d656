package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The evaluation runs the engine over the shared labelled data (see
// /work/shared/data/README.md) and prints precision, recall and
// false-positive rate per source and per category or kind, for a
// development split and a held-out split. Rules were tuned on the dev
// split only; the held-out split (a third of the servers, and a third of
// the BIPIA attack categories) stands in for unseen data.
//
//	go test -run TestEvaluate -v ./internal/detect
//
// It skips when the data is absent.

// sharedDir locates the shared data: $MCPWARDEN_SHARED, else ../shared
// next to the module root, else /work/shared.
func sharedDir(t *testing.T) string {
	if d := os.Getenv("MCPWARDEN_SHARED"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			dir = ""
			break
		}
		dir = parent
	}
	var cands []string
	if dir != "" {
		cands = append(cands, filepath.Join(dir, "..", "shared"))
	}
	cands = append(cands, "/work/shared")
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "data", "README.md")); err == nil {
			return c
		}
	}
	t.Skip("shared evaluation data not found (set MCPWARDEN_SHARED)")
	return ""
}

type toolRecord struct {
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Label    string          `json:"label"`
	Server   string          `json:"server"`
	Category string          `json:"category"`
	Tool     json.RawMessage `json:"tool"`
}

type textRecord struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Label    string `json:"label"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Category string `json:"attack_category"`
}

func readJSONL[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("evaluation data: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// heldOut assigns a stable third of the keys to the held-out split.
func heldOut(key string) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()%3 == 0
}

// tally counts outcomes for one slice of the data.
type tally struct{ tp, fn, fp, tn int }

func (c *tally) add(positive, flagged bool) {
	switch {
	case positive && flagged:
		c.tp++
	case positive:
		c.fn++
	case flagged:
		c.fp++
	default:
		c.tn++
	}
}

func (c tally) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c tally) fpr() float64       { return ratio(c.fp, c.fp+c.tn) }
func (c tally) precision() float64 { return ratio(c.tp, c.tp+c.fp) }

func ratio(a, b int) float64 {
	if b == 0 {
		return -1
	}
	return float64(a) / float64(b)
}

func pct(f float64) string {
	if f < 0 {
		return "    -"
	}
	return fmt.Sprintf("%5.1f%%", 100*f)
}

type report struct {
	name   string
	slices map[string]*tally
}

func newReport(name string) *report { return &report{name: name, slices: map[string]*tally{}} }

func (r *report) add(slice string, positive, flagged bool) {
	c := r.slices[slice]
	if c == nil {
		c = &tally{}
		r.slices[slice] = c
	}
	c.add(positive, flagged)
}

func (r *report) print(t *testing.T) {
	keys := make([]string, 0, len(r.slices))
	for k := range r.slices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n%-58s %5s %5s %5s %5s  %7s %7s %7s\n", r.name, "slice", "tp", "fn", "fp", "tn", "prec", "recall", "fpr")
	for _, k := range keys {
		c := r.slices[k]
		fmt.Fprintf(&b, "%-58s %5d %5d %5d %5d  %7s %7s %7s\n", k, c.tp, c.fn, c.fp, c.tn, pct(c.precision()), pct(c.recall()), pct(c.fpr()))
	}
	t.Log(b.String())
}

func TestEvaluate(t *testing.T) {
	dir := sharedDir(t)
	// MCPWARDEN_EVAL_DISABLE (comma-separated rule IDs) runs an ablation:
	// how much do the figures depend on those rules?
	var disabled []string
	if d := os.Getenv("MCPWARDEN_EVAL_DISABLE"); d != "" {
		disabled = strings.Split(d, ",")
	}
	e, err := New(Options{Disabled: disabled})
	if err != nil {
		t.Fatal(err)
	}
	verbose := os.Getenv("MCPWARDEN_EVAL_VERBOSE") != ""

	tools := readJSONL[toolRecord](t, filepath.Join(dir, "data", "tools", "dev.jsonl"))
	tr := newReport("tools/dev.jsonl: poisoned vs benign tool definitions")
	totals := map[string]*tally{}
	for _, r := range tools {
		v, err := e.InspectTool(r.Tool)
		if err != nil {
			t.Fatalf("%s: InspectTool: %v", r.ID, err)
		}
		split := "dev"
		if heldOut(r.Source + "/" + r.Server) {
			split = "held-out"
		}
		pos := r.Label == "poisoned"
		for _, s := range []string{split, "all"} {
			tr.add(s+" ALL", pos, v.Flagged)
			tr.add(s+" source="+r.Source, pos, v.Flagged)
			if pos {
				tr.add(s+" category="+r.Category, pos, v.Flagged)
			}
			if totals[s] == nil {
				totals[s] = &tally{}
			}
			totals[s].add(pos, v.Flagged)
		}
		if verbose && pos != v.Flagged {
			t.Logf("MISS %s label=%s score=%.2f %v", r.ID, r.Label, v.Score, ruleIDs(v))
		}
	}
	tr.print(t)

	texts := readJSONL[textRecord](t, filepath.Join(dir, "data", "texts", "dev.jsonl"))
	xr := newReport("texts/dev.jsonl: injected vs benign tool output (BIPIA)")
	ttotals := map[string]*tally{}
	for _, r := range texts {
		v := e.InspectText(Result, r.Text)
		pos := r.Label == "injection"
		split := "dev"
		if (pos && heldOut(r.Category)) || (!pos && heldOut(r.ID)) {
			split = "held-out"
		}
		for _, s := range []string{split, "all"} {
			xr.add(s+" ALL", pos, v.Flagged)
			xr.add(s+" kind="+r.Kind, pos, v.Flagged)
			if pos {
				xr.add(s+" category="+r.Category, pos, v.Flagged)
			}
			if ttotals[s] == nil {
				ttotals[s] = &tally{}
			}
			ttotals[s].add(pos, v.Flagged)
		}
		if verbose && pos != v.Flagged {
			t.Logf("MISS %s label=%s kind=%s cat=%s score=%.2f %v", r.ID, r.Label, r.Kind, r.Category, v.Score, ruleIDs(v))
		}
	}
	xr.print(t)

	if disabled != nil {
		return // ablations report figures; the floors apply to the full rule set
	}
	// Regression floors, well below the measured figures (see
	// docs/detection.md), so rule changes that lose real ground fail.
	if c := totals["all"]; c.recall() < 0.90 || c.fpr() > 0.015 {
		t.Errorf("tools: recall %s, FPR %s; want recall >= 90%% and FPR <= 1.5%%", pct(c.recall()), pct(c.fpr()))
	}
	if c := ttotals["all"]; c.recall() < 0.70 || c.fpr() > 0.03 {
		t.Errorf("texts: recall %s, FPR %s; want recall >= 70%% and FPR <= 3%%", pct(c.recall()), pct(c.fpr()))
	}
}

func ruleIDs(v Verdict) []string {
	var ids []string
	for _, f := range v.Findings {
		ids = append(ids, fmt.Sprintf("%s:%.2f", f.RuleID, f.Confidence))
	}
	return ids
}
