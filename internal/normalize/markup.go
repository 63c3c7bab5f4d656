package normalize

import (
	"regexp"
	"slices"
	"strings"
)

var (
	// markdownComment matches link-reference definitions that renderers
	// drop: [//]: # (text), [comment]: <> (text), [x]: # "text".
	markdownComment = regexp.MustCompile(`(?m)^[ \t]{0,3}\[[^\]\n]{0,40}\]:[ \t]*(?:#|<>)[ \t]*(?:\([^\n]*\)|"[^\n]*"|'[^\n]*')[ \t]*$`)
	// hiddenOpen matches an opening tag that hides its content from view.
	hiddenOpen = regexp.MustCompile(`<([a-z][a-z0-9]{0,15})\b[^>]{0,400}?(?:\shidden(?:[\s>=/]|$)|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:[;"'!]|$)|opacity\s*:\s*0(?:\.0+)?\s*(?:[;"'!]|$)|aria-hidden\s*=\s*["']?true|color\s*:\s*(?:transparent|white|#fff(?:fff)?\b)|(?:width|height)\s*:\s*0(?:px)?\s*[;"'])[^>]{0,400}?>|<details\b[^>]{0,200}>`)
)

// maxHiddenElement bounds how far the end of a hidden element is looked for.
const maxHiddenElement = 64 << 10

// maxHiddenElements bounds the hidden elements looked at in one text, so
// that looking for their ends stays linear in the input.
const maxHiddenElements = 32

// findMarkup records HTML comments, markdown comments and hidden HTML
// elements. It reads Norm (lower-cased, entities decoded) so that
// &lt;!-- and upper-case tags are caught, and maps back to Orig.
func findMarkup(t *Text, b *budget) {
	n := t.Norm
	var found []Hidden
	if strings.Contains(n, "<!--") {
		for i := 0; ; {
			j := strings.Index(n[i:], "<!--")
			if j < 0 {
				break
			}
			start := i + j
			end := len(n)
			if k := strings.Index(n[start+4:], "-->"); k >= 0 {
				end = start + 4 + k + 3
			}
			found = append(found, Hidden{Kind: HTMLComment, Span: t.OrigSpan(start, end), Count: 1, Suspicious: true})
			i = end
			if i >= len(n) {
				break
			}
		}
	}
	if strings.Contains(n, "]:") {
		for _, m := range markdownComment.FindAllStringIndex(n, -1) {
			found = append(found, Hidden{Kind: MarkdownComment, Span: t.OrigSpan(m[0], m[1]), Count: 1, Suspicious: true})
		}
	}
	if strings.IndexByte(n, '<') >= 0 {
		found = append(found, hiddenElements(t, n)...)
	}
	for _, h := range found {
		if b.hidden >= b.opt.MaxHidden {
			b.truncate("max_hidden")
			break
		}
		b.hidden++
		t.Hidden = insertHidden(t.Hidden, h)
	}
}

// hiddenTriggers are the substrings that can make an opening tag hide
// its content; the tag regex runs only on tags that contain one.
var hiddenTriggers = []string{"hidden", "none", "font-size", "opacity", "color", "<details", "width", "height"}

// hiddenElements finds elements hidden by attribute or style. It looks
// for trigger words, widens each to the enclosing tag and checks only
// that tag, so large HTML pages cost a few substring scans.
func hiddenElements(t *Text, n string) []Hidden {
	// Collect the tags that contain a trigger word, by start offset.
	tags := map[int]int{}
	for from := 0; len(tags) < 4*maxHiddenElements; {
		i := strings.IndexByte(n[from:], '<')
		if i < 0 {
			break
		}
		lt := from + i
		from = lt + 1
		if lt+1 >= len(n) || n[lt+1] < 'a' || n[lt+1] > 'z' {
			continue // not an opening tag
		}
		gt := strings.IndexByte(n[lt:min(len(n), lt+800)], '>')
		if gt < 0 {
			continue
		}
		tag := n[lt : lt+gt+1]
		for _, trig := range hiddenTriggers {
			if strings.Contains(tag, trig) {
				tags[lt] = lt + gt + 1
				break
			}
		}
	}
	starts := make([]int, 0, len(tags))
	for lt := range tags {
		starts = append(starts, lt)
	}
	slices.Sort(starts)
	var out []Hidden
	next := 0 // elements nest; skip tags inside the one just recorded
	for _, lt := range starts {
		if lt < next || len(out) >= maxHiddenElements {
			continue
		}
		tagEnd := tags[lt]
		m := hiddenOpen.FindStringSubmatchIndex(n[lt:tagEnd])
		if m == nil || m[0] != 0 {
			continue
		}
		tag := "details"
		if m[2] >= 0 {
			tag = n[lt+m[2] : lt+m[3]]
		}
		end := tagEnd
		rest := n[end:min(len(n), end+maxHiddenElement)]
		if k := strings.Index(rest, "</"+tag); k >= 0 {
			end += k + len("</"+tag)
			if g := strings.IndexByte(n[end:], '>'); g >= 0 && g < 8 {
				end += g + 1
			}
		}
		next = end
		out = append(out, Hidden{Kind: HiddenElement, Span: t.OrigSpan(lt, end), Count: 1, Suspicious: true})
	}
	return out
}

// insertHidden keeps hs ordered by start offset.
func insertHidden(hs []Hidden, h Hidden) []Hidden {
	i := len(hs)
	for i > 0 && hs[i-1].Span.Start > h.Span.Start {
		i--
	}
	hs = append(hs, Hidden{})
	copy(hs[i+1:], hs[i:])
	hs[i] = h
	return hs
}
