// Package prefilter finds every occurrence of a fixed set of keywords in
// a text in one pass: the Aho-Corasick prefilter in front of the
// detection rules and the secret detector.
//
// The automaton is compiled to a dense DFA over byte classes. Scanning is
// bound by the latency of one table lookup per byte, so long texts are
// split in two halves scanned by two independent state chains in the same
// loop, which the CPU overlaps; matches straddling the split are found
// exactly once.
//
//	m, err := prefilter.New([]string{"ignore", "system prompt"})
//	hits := m.Scan(text, nil) // every overlapping match, ordered by End
//
// A [Matcher] is immutable and safe for concurrent use.
package prefilter

import (
	"errors"
	"fmt"
)

// Match is one keyword occurrence: Pattern is the index of the keyword in
// the list given to [New], and text[Start:End] is the keyword.
type Match struct {
	Pattern    int
	Start, End int
}

// matchFlag marks a transition into a state that ends some keyword.
const matchFlag = 1 << 31

// Matcher is a compiled keyword set.
type Matcher struct {
	classes  [256]uint8
	nclass   int
	trans    []uint32 // state*nclass + class → next state*nclass, | matchFlag if it has outputs
	outStart []int32  // per state: outputs are outs[outStart[s]:outStart[s+1]]
	outs     []int32  // pattern indexes
	lens     []int32  // pattern lengths
	maxLen   int
	patterns []string
}

// maxStates bounds the automaton so that state*nclass fits the table.
const maxStates = 1 << 22

// New compiles patterns. Empty patterns are an error; duplicates are
// allowed (each reports its own index).
func New(patterns []string) (*Matcher, error) {
	if len(patterns) == 0 {
		return nil, errors.New("prefilter: no patterns")
	}
	m := &Matcher{patterns: append([]string(nil), patterns...), lens: make([]int32, len(patterns))}
	// Byte classes: every byte used by a pattern gets its own class; all
	// other bytes share class 0.
	used := [256]bool{}
	for i, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("prefilter: pattern %d is empty", i)
		}
		m.lens[i] = int32(len(p))
		m.maxLen = max(m.maxLen, len(p))
		for j := 0; j < len(p); j++ {
			used[p[j]] = true
		}
	}
	m.nclass = 1
	for b := range 256 {
		if used[b] {
			m.classes[b] = uint8(m.nclass)
			m.nclass++
		}
	}
	if m.nclass > 256 {
		return nil, errors.New("prefilter: too many byte classes")
	}
	// Trie.
	type node struct {
		next map[uint8]int32
		fail int32
		out  []int32
	}
	nodes := []node{{next: map[uint8]int32{}}}
	for i, p := range patterns {
		s := int32(0)
		for j := 0; j < len(p); j++ {
			c := m.classes[p[j]]
			n, ok := nodes[s].next[c]
			if !ok {
				if len(nodes) >= maxStates {
					return nil, errors.New("prefilter: too many states")
				}
				n = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint8]int32{}})
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].out = append(nodes[s].out, int32(i))
	}
	// Failure links by BFS, and the full DFA.
	nc := m.nclass
	m.trans = make([]uint32, len(nodes)*nc)
	queue := make([]int32, 0, len(nodes))
	for c := range nc {
		if n, ok := nodes[0].next[uint8(c)]; ok {
			nodes[n].fail = 0
			queue = append(queue, n)
			m.trans[c] = uint32(n)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := range nc {
			if n, ok := nodes[s].next[uint8(c)]; ok {
				nodes[n].fail = int32(m.trans[int(f)*nc+c])
				queue = append(queue, n)
				m.trans[int(s)*nc+c] = uint32(n)
			} else {
				m.trans[int(s)*nc+c] = m.trans[int(f)*nc+c]
			}
		}
	}
	// Outputs, then premultiply and flag.
	m.outStart = make([]int32, len(nodes)+1)
	for s := range nodes {
		m.outStart[s] = int32(len(m.outs))
		m.outs = append(m.outs, nodes[s].out...)
	}
	m.outStart[len(nodes)] = int32(len(m.outs))
	for i, t := range m.trans {
		v := t * uint32(nc)
		if len(nodes[t].out) > 0 {
			v |= matchFlag
		}
		m.trans[i] = v
	}
	return m, nil
}

// Patterns returns the number of patterns.
func (m *Matcher) Patterns() int { return len(m.patterns) }

// Pattern returns pattern i.
func (m *Matcher) Pattern(i int) string { return m.patterns[i] }

// States returns the number of automaton states.
func (m *Matcher) States() int { return len(m.outStart) - 1 }

// splitMin is the input size from which two chains pay off.
const splitMin = 512

// Scan appends every (overlapping) keyword occurrence in s to dst, ordered
// by End, and returns it.
func (m *Matcher) Scan(s string, dst []Match) []Match {
	if len(s) < splitMin {
		return m.scan(s, 0, len(s), 0, dst)
	}
	mid := len(s) / 2
	bStart := max(0, mid-(m.maxLen-1))
	return m.scan2(s, mid, bStart, dst)
}

// scan runs one chain over s[from:to] and keeps matches ending after keep.
func (m *Matcher) scan(s string, from, to, keep int, dst []Match) []Match {
	trans, classes := m.trans, &m.classes
	var sid uint32
	for i := from; i < to; i++ {
		sid = trans[(sid&^matchFlag)+uint32(classes[s[i]])]
		if sid&matchFlag != 0 && i+1 > keep {
			dst = m.emit(sid, i+1, dst)
		}
	}
	return dst
}

// scan2 runs chain A over s[:mid] and chain B over s[bStart:] in one
// loop. B reports only matches ending after mid, so a match straddling
// the split is reported once; B starts early enough to see it whole.
func (m *Matcher) scan2(s string, mid, bStart int, dst []Match) []Match {
	trans, classes := m.trans, &m.classes
	var a, b uint32
	var tail []Match // B's matches, appended after A's to keep End order
	n := min(mid, len(s)-bStart)
	for i := 0; i < n; i++ {
		a = trans[(a&^matchFlag)+uint32(classes[s[i]])]
		b = trans[(b&^matchFlag)+uint32(classes[s[bStart+i]])]
		if a&matchFlag != 0 {
			dst = m.emit(a, i+1, dst)
		}
		if b&matchFlag != 0 && bStart+i+1 > mid {
			tail = m.emit(b, bStart+i+1, tail)
		}
	}
	// Finish whichever chain has bytes left.
	for i := n; i < mid; i++ {
		a = trans[(a&^matchFlag)+uint32(classes[s[i]])]
		if a&matchFlag != 0 {
			dst = m.emit(a, i+1, dst)
		}
	}
	for i := bStart + n; i < len(s); i++ {
		b = trans[(b&^matchFlag)+uint32(classes[s[i]])]
		if b&matchFlag != 0 && i+1 > mid {
			tail = m.emit(b, i+1, tail)
		}
	}
	return append(dst, tail...)
}

func (m *Matcher) emit(sid uint32, end int, dst []Match) []Match {
	st := (sid &^ matchFlag) / uint32(m.nclass)
	for _, p := range m.outs[m.outStart[st]:m.outStart[st+1]] {
		dst = append(dst, Match{Pattern: int(p), Start: end - int(m.lens[p]), End: end})
	}
	return dst
}
