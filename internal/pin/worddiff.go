package pin

import (
	"strings"
)

// maxDiffCells bounds the word-diff table; longer texts fall back to
// trimming the common prefix and suffix.
const maxDiffCells = 1 << 20

// diffContext is how many unchanged words are kept around each change.
const diffContext = 5

// WordDiff renders the difference between two texts word by word:
// removed words as [-...-], added words as {+...+}, with a few words of
// context and "…" for the elided rest.
func WordDiff(a, b string) string {
	if a == b {
		return ""
	}
	aw, bw := words(a), words(b)
	// Common prefix and suffix first: the usual edit is local.
	p := 0
	for p < len(aw) && p < len(bw) && aw[p] == bw[p] {
		p++
	}
	s := 0
	for s < len(aw)-p && s < len(bw)-p && aw[len(aw)-1-s] == bw[len(bw)-1-s] {
		s++
	}
	midA, midB := aw[p:len(aw)-s], bw[p:len(bw)-s]
	var ops []op
	for _, w := range aw[:p] {
		ops = append(ops, op{' ', w})
	}
	if len(midA)*len(midB) <= maxDiffCells {
		ops = append(ops, lcsOps(midA, midB)...)
	} else {
		for _, w := range midA {
			ops = append(ops, op{'-', w})
		}
		for _, w := range midB {
			ops = append(ops, op{'+', w})
		}
	}
	for _, w := range aw[len(aw)-s:] {
		ops = append(ops, op{' ', w})
	}
	return renderOps(ops)
}

type op struct {
	kind byte // ' ', '-', '+'
	word string
}

// words splits text into words; whitespace only separates them, since a
// one-line diff renders every run of whitespace as one space.
func words(s string) []string { return strings.Fields(s) }

func lcsOps(a, b []string) []op {
	n, m := len(a), len(b)
	// dp[i][j] = LCS length of a[i:], b[j:].
	dp := make([][]int32, n+1)
	for i := range dp {
		dp[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i++
			j++
		case dp[i+1][j] >= dp[i][j+1]:
			ops = append(ops, op{'-', a[i]})
			i++
		default:
			ops = append(ops, op{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, op{'-', a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, op{'+', b[j]})
	}
	return ops
}

func renderOps(ops []op) string {
	// Mark which unchanged words are near a change.
	keep := make([]bool, len(ops))
	for i, o := range ops {
		if o.kind == ' ' {
			continue
		}
		for j := max(0, i-diffContext); j < min(len(ops), i+diffContext+1); j++ {
			keep[j] = true
		}
	}
	var parts []string
	elided := false
	for i := 0; i < len(ops); {
		o := ops[i]
		if o.kind == ' ' {
			if keep[i] {
				parts = append(parts, o.word)
				elided = false
			} else if !elided {
				parts = append(parts, "…")
				elided = true
			}
			i++
			continue
		}
		// A run of the same kind is rendered as one bracket.
		j := i
		var run []string
		for j < len(ops) && ops[j].kind == o.kind {
			run = append(run, ops[j].word)
			j++
		}
		if o.kind == '-' {
			parts = append(parts, "[-"+strings.Join(run, " ")+"-]")
		} else {
			parts = append(parts, "{+"+strings.Join(run, " ")+"+}")
		}
		elided = false
		i = j
	}
	return strings.Join(parts, " ")
}
