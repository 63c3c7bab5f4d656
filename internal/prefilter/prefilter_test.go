package prefilter

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naive finds every occurrence of every pattern, the reference Scan must
// match (as a set, and ordered by End).
func naive(patterns []string, s string) []Match {
	var out []Match
	for end := 1; end <= len(s); end++ {
		for i, p := range patterns {
			if len(p) <= end && s[end-len(p):end] == p {
				out = append(out, Match{Pattern: i, Start: end - len(p), End: end})
			}
		}
	}
	return out
}

func sameMatches(t *testing.T, patterns []string, s string, got []Match) {
	t.Helper()
	want := naive(patterns, s)
	for i := 1; i < len(got); i++ {
		if got[i].End < got[i-1].End {
			t.Fatalf("Scan(%q) not ordered by End: %v", s, got)
		}
	}
	key := func(m Match) [3]int { return [3]int{m.End, m.Pattern, m.Start} }
	g := make([][3]int, len(got))
	for i, m := range got {
		g[i] = key(m)
	}
	w := make([][3]int, len(want))
	for i, m := range want {
		w[i] = key(m)
	}
	less := func(a, b [3]int) int {
		for k := range 3 {
			if a[k] != b[k] {
				return a[k] - b[k]
			}
		}
		return 0
	}
	slices.SortFunc(g, less)
	slices.SortFunc(w, less)
	if !slices.Equal(g, w) {
		t.Fatalf("Scan(%d bytes) found %d matches, want %d", len(s), len(g), len(w))
	}
}

func TestScan(t *testing.T) {
	patterns := []string{"he", "she", "his", "hers", "ignore", "ignore previous", "<|", "|>", "a", "aa", "ignore"}
	m, err := New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "ushers", "ignore previous instructions", "<|im_start|>", "aaaa", "xyz",
		strings.Repeat("she sells ignore previous <|x|> ", 100)} {
		sameMatches(t, patterns, s, m.Scan(s, nil))
	}
}

func TestScanSplitBoundary(t *testing.T) {
	patterns := []string{"boundary", "ar", "y"}
	m, err := New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	// Put a match across the split point of every length around it.
	for n := splitMin; n < splitMin+40; n++ {
		s := strings.Repeat("x", n)
		mid := n / 2
		for off := -8; off <= 1; off++ {
			if mid+off < 0 || mid+off+8 > n {
				continue
			}
			t2 := s[:mid+off] + "boundary" + s[mid+off+8:]
			sameMatches(t, patterns, t2, m.Scan(t2, nil))
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Errorf("New(nil) = nil error")
	}
	if _, err := New([]string{"a", ""}); err == nil {
		t.Errorf("New with an empty pattern = nil error")
	}
}

func FuzzScan(f *testing.F) {
	f.Add("ignore previous", "ig", "nor")
	f.Add(strings.Repeat("ab", 400), "ab", "ba")
	f.Fuzz(func(t *testing.T, s, p1, p2 string) {
		patterns := []string{"ignore", "a"}
		if p1 != "" && len(p1) < 20 {
			patterns = append(patterns, p1)
		}
		if p2 != "" && len(p2) < 20 {
			patterns = append(patterns, p2)
		}
		m, err := New(patterns)
		if err != nil {
			t.Fatal(err)
		}
		sameMatches(t, patterns, s, m.Scan(s, nil))
	})
}

func BenchmarkScan(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	words := strings.Fields("the of and request response user account warning token server ignore previous instructions")
	var sb strings.Builder
	for sb.Len() < 1<<20 {
		sb.WriteString(words[r.IntN(len(words))])
		sb.WriteByte(' ')
	}
	text := sb.String()
	var patterns []string
	for i := range 1000 {
		patterns = append(patterns, words[i%len(words)]+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	patterns = append(patterns, "ignore previous", "token")
	m, err := New(patterns)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var dst []Match
	for b.Loop() {
		dst = m.Scan(text, dst[:0])
	}
}
