package normalize

import (
	"regexp"
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
	if strings.IndexByte(n, '<') >= 0 && (strings.Contains(n, "hidden") || strings.Contains(n, "none") ||
		strings.Contains(n, "<details") || strings.Contains(n, ":0") || strings.Contains(n, ": 0") ||
		strings.Contains(n, "color")) {
		next := 0
		for _, m := range hiddenOpen.FindAllStringSubmatchIndex(n, maxHiddenElements) {
			if m[0] < next {
				continue // nested inside the element just recorded
			}
			tag := "details"
			if m[2] >= 0 {
				tag = n[m[2]:m[3]]
			}
			end := m[1]
			rest := n[end:min(len(n), end+maxHiddenElement)]
			if k := strings.Index(rest, "</"+tag); k >= 0 {
				end += k + len("</"+tag)
				if gt := strings.IndexByte(n[end:], '>'); gt >= 0 && gt < 8 {
					end += gt + 1
				}
			}
			next = end
			found = append(found, Hidden{Kind: HiddenElement, Span: t.OrigSpan(m[0], end), Count: 1, Suspicious: true})
		}
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
