package detect

import (
	"os"
	"sort"
	"testing"
	"time"
)

func TestProfileRules(t *testing.T) {
	if os.Getenv("PROF") == "" {
		t.Skip()
	}
	e := testEngine(t)
	text := benchCorpus(1 << 20)
	type stat struct {
		runs int
		dur  time.Duration
	}
	stats := map[string]*stat{}
	hits := e.ac.FindAllOverlapping([]byte(text))
	kwcount := map[string]int{}
	for _, h := range hits {
		
		if c := text[h.Start]; isAlnum(c) && h.Start > 0 && isAlnum(text[h.Start-1]) {
			continue
		}
		for _, r := range e.kwRules[h.PatternID] {
			if r.re == nil || r.weight[Result] == 0 {
				continue
			}
			if r.upper && !mostlyUpper(text[h.Start:h.End]) || r.lineSt && !opensLine(text, h.Start) {
				continue
			}
			s := stats[r.id]
			if s == nil {
				s = &stat{}
				stats[r.id] = s
			}
			ws, we := max(h.Start-r.before, 0), min(h.End+r.after, len(text))
			if r.lines { ws, we = snapLines(text, ws, we) }
			kwcount[string(e.ac.Pattern(h.PatternID))]++
			st := time.Now()
			r.re.FindAllStringIndex(text[ws:we], 4)
			s.dur += time.Since(st)
			s.runs++
		}
	}
	ids := make([]string, 0, len(stats))
	for id := range stats {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return stats[ids[i]].dur > stats[ids[j]].dur })
	for _, id := range ids[:min(20, len(ids))] {
		t.Logf("%-32s runs %6d  %v", id, stats[id].runs, stats[id].dur)
	}
	type kc struct {
		k string
		n int
	}
	var kcs []kc
	for k, n := range kwcount {
		kcs = append(kcs, kc{k, n})
	}
	sort.Slice(kcs, func(i, j int) bool { return kcs[i].n > kcs[j].n })
	for _, k := range kcs[:min(40, len(kcs))] {
		t.Logf("kw %-20q %d", k.k, k.n)
	}
}
