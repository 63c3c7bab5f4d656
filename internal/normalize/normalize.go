package normalize

import (
	"slices"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// Span is a half-open byte range [Start, End) of the original text.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Options bounds the work Normalize does. The zero value is safe: every
// limit falls back to its default.
type Options struct {
	// MaxDepth bounds nested decoding (base64 inside URL encoding inside
	// base64 ...). Default 3; a negative value disables decoding.
	MaxDepth int
	// MaxDecodedBytes bounds the bytes produced by decoding across all
	// layers of one call. Default 1 MiB.
	MaxDecodedBytes int
	// MaxLayers bounds the number of decoded layers of one call. Default 64.
	MaxLayers int
	// MaxHidden bounds the hidden-character records kept (adjacent hidden
	// characters of one kind are merged into one record). Default 256.
	MaxHidden int
}

const (
	defaultMaxDepth        = 3
	defaultMaxDecodedBytes = 1 << 20
	defaultMaxLayers       = 64
	defaultMaxHidden       = 256
)

func (o Options) withDefaults() Options {
	if o.MaxDepth == 0 {
		o.MaxDepth = defaultMaxDepth
	}
	if o.MaxDecodedBytes <= 0 {
		o.MaxDecodedBytes = defaultMaxDecodedBytes
	}
	if o.MaxLayers <= 0 {
		o.MaxLayers = defaultMaxLayers
	}
	if o.MaxHidden <= 0 {
		o.MaxHidden = defaultMaxHidden
	}
	return o
}

// Text is normalized text together with what was removed from it and what
// was decoded out of it.
type Text struct {
	// Orig is the input, unchanged.
	Orig string
	// Norm is the canonical form: escapes and hidden characters removed,
	// entities decoded, NFKC, confusables folded, lower-cased.
	Norm string
	// Hidden records removed characters and hidden regions, in order of
	// their position in Orig.
	Hidden []Hidden
	// Layers holds the payloads decoded out of Orig, each normalized in
	// turn. A layer's spans all map to the layer's Span in this Text.
	Layers []Layer
	// Truncated lists the budgets that stopped decoding or recording
	// ("max_depth", "max_decoded_bytes", "max_layers", "max_hidden").
	Truncated []string

	segs []seg // non-identity pieces of the offset map, by nStart
}

// Layer is a payload decoded out of a text.
type Layer struct {
	Encoding string // "base64", "hex", "url", "unicode-escape", "unicode-tags", "variation-selectors"
	Span     Span   // where the encoded payload sits in the parent's Orig
	Depth    int    // 1 for a payload decoded from the input itself
	Text     *Text  // the decoded payload, normalized
}

// seg maps a piece of Norm, [nStart, nEnd), to the piece of Orig it came
// from, [oStart, oEnd). Between segments the two texts advance together.
type seg struct {
	nStart, nEnd int32
	oStart, oEnd int32
}

// budget is shared by a call and all its nested decodings.
type budget struct {
	opt     Options
	decoded int
	layers  int
	hidden  int
	trunc   map[string]bool
}

func (b *budget) truncate(what string) {
	if b.trunc == nil {
		b.trunc = map[string]bool{}
	}
	b.trunc[what] = true
}

// Normalize normalizes s. It is safe for concurrent use and never fails;
// see [Options] for the bounds on its work.
func Normalize(s string, opt Options) *Text {
	b := &budget{opt: opt.withDefaults()}
	t := normalize(s, 0, b)
	for _, k := range [...]string{"max_depth", "max_decoded_bytes", "max_layers", "max_hidden"} {
		if b.trunc[k] {
			t.Truncated = append(t.Truncated, k)
		}
	}
	return t
}

func normalize(s string, depth int, b *budget) *Text {
	t := &Text{Orig: s}
	w := writer{t: t, b: b, depth: depth}
	w.run(s)
	// The buffer is never written again: hand it over without a copy.
	if len(w.buf) > 0 {
		t.Norm = unsafe.String(&w.buf[0], len(w.buf))
	}
	findMarkup(t, b)
	if b.opt.MaxDepth >= 0 {
		decodeLayers(t, depth, b)
	}
	w.flushTags()
	return t
}

// writer builds Norm and the offset map in one pass.
type writer struct {
	t     *Text
	b     *budget
	depth int
	buf   []byte

	// pending non-ASCII run awaiting NFKC, as a span of the input.
	pendStart, pendEnd int

	// runs of tag characters and variation selectors, decoded as they
	// are met and turned into layers when the run ends.
	tags     []byte
	tagSpan  Span
	vs       []byte
	vsSpan   Span
	lastKept rune // last rune written to Norm, for the emoji checks

	// where the last byte-for-byte ASCII copy ended, in the input and in
	// Norm, so a following combining mark can compose with it.
	asciiEnd, asciiBuf int
}

// lowerASCII lower-cases ASCII letters and leaves every other byte.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// ASCII byte classes for the copy loop.
const (
	plain uint8 = iota
	upper
	special // ESC, '&', controls, DEL: handled one at a time
)

var asciiClass = func() (t [256]uint8) {
	for c := 0x80; c < 0x100; c++ {
		t[c] = special // non-ASCII leaves the fast path
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = upper
	}
	for c := 0; c < 0x20; c++ {
		t[c] = special
	}
	t['\t'], t['\n'], t['\r'] = plain, plain, plain
	t[0x1b], t['&'], t[0x7f] = special, special, special
	return t
}()

func (w *writer) run(s string) {
	w.buf = make([]byte, 0, len(s)+len(s)/16)
	w.pendStart = -1
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// Fast path: copy a run of ordinary ASCII in one go.
			if asciiClass[c] != special {
				w.flushPending(s)
				if len(w.tags) > 0 || len(w.vs) > 0 {
					w.endRuns()
				}
				// Scan and lower-case in one loop, writing in place.
				n0, need := len(w.buf), len(s)-i
				if cap(w.buf)-n0 < need {
					w.buf = slices.Grow(w.buf, need)
				}
				dst := w.buf[n0 : n0+need]
				k := 0
				for ; k < need; k++ {
					c := s[i+k]
					if asciiClass[c] == special {
						break
					}
					dst[k] = lowerASCII[c]
				}
				w.buf = w.buf[:n0+k]
				j := i + k
				w.lastKept = rune(s[j-1])
				i = j
				w.asciiEnd, w.asciiBuf = i, len(w.buf)
				continue
			}
			switch {
			case c == 0x1b:
				w.flushPending(s)
				n := escapeLen(s[i:])
				w.drop(i, i+n, Escape, 0)
				i += n
				continue
			case c == '&':
				if r, n := entity(s[i:]); n > 0 {
					w.flushPending(s)
					w.rune(s, r, i, i+n)
					i += n
					continue
				}
			case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
				w.flushPending(s)
				w.drop(i, i+1, Control, rune(c))
				i++
				continue
			}
			w.flushPending(s)
			w.endRuns()
			w.buf = append(w.buf, c)
			w.lastKept = rune(c)
			i++
			w.asciiEnd, w.asciiBuf = i, len(w.buf)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if k := hiddenKind(r); k != 0 {
			w.flushPending(s)
			w.hidden(s, r, k, i, i+n)
			i += n
			continue
		}
		w.endRuns()
		if w.pendStart < 0 {
			w.pendStart = i
			// A combining mark composes with the ASCII letter before it
			// (e + U+0301 = é): take that letter back into the run.
			if unicode.In(r, unicode.Mn, unicode.Mc) && w.asciiEnd == i && w.asciiBuf == len(w.buf) && i > 0 {
				w.buf = w.buf[:len(w.buf)-1]
				w.pendStart = i - 1
			}
		}
		w.pendEnd = i + n
		i += n
	}
	w.flushPending(s)
}

// rune handles a rune that did not appear literally at [start, end): an
// HTML character reference. It goes through the same checks as a literal.
func (w *writer) rune(s string, r rune, start, end int) {
	if r < utf8.RuneSelf && (r >= 0x20 || r == '\t' || r == '\n' || r == '\r') && r != 0x7f {
		w.endRuns()
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		w.emit(string(r), start, end)
		return
	}
	if r < utf8.RuneSelf {
		w.drop(start, end, Control, r)
		return
	}
	if k := hiddenKind(r); k != 0 {
		w.hidden(s, r, k, start, end)
		return
	}
	w.endRuns()
	w.emit(fold(norm.NFKC.String(string(r))), start, end)
}

// emit writes out as the normalized form of orig [start, end).
func (w *writer) emit(out string, start, end int) {
	n := len(w.buf)
	w.buf = append(w.buf, out...)
	if out != "" {
		r, _ := utf8.DecodeLastRuneInString(out)
		w.lastKept = r
	}
	// Every byte of Orig is either copied one for one or covered by a
	// segment, so an unchanged piece keeps the running offset and needs
	// no segment of its own.
	if out == w.t.Orig[start:end] {
		return
	}
	w.t.segs = append(w.t.segs, seg{int32(n), int32(n + len(out)), int32(start), int32(end)})
}

func (w *writer) flushPending(s string) {
	if w.pendStart < 0 {
		return
	}
	start, end := w.pendStart, w.pendEnd
	w.pendStart = -1
	seg := s[start:end]
	out := seg
	if !norm.NFKC.IsNormalString(seg) {
		out = norm.NFKC.String(seg)
	}
	folded := fold(out)
	w.markMixedScript(seg, start)
	if folded == seg {
		w.emit(seg, start, end)
		return
	}
	// Map rune by rune where NFKC kept the rune count, so spans stay
	// tight; otherwise map the whole run as one piece.
	if utf8.RuneCountInString(seg) == utf8.RuneCountInString(out) {
		o := start
		for _, r := range out {
			_, n := utf8.DecodeRuneInString(s[o:])
			w.emit(fold(string(r)), o, o+n)
			o += n
		}
		return
	}
	w.emit(folded, start, end)
}

// drop removes orig [start, end) from Norm and records it.
func (w *writer) drop(start, end int, k HiddenKind, r rune) {
	n := int32(len(w.buf))
	w.t.segs = append(w.t.segs, seg{n, n, int32(start), int32(end)})
	w.record(Hidden{Kind: k, Span: Span{start, end}, Rune: r, Count: 1, Suspicious: true})
}

func (w *writer) record(h Hidden) {
	hs := w.t.Hidden
	if len(hs) > 0 {
		last := &hs[len(hs)-1]
		if last.Kind == h.Kind && last.Span.End == h.Span.Start && last.Suspicious == h.Suspicious {
			last.Span.End = h.Span.End
			last.Count += h.Count
			if last.Rune != h.Rune {
				last.Rune = 0 // mixed runes
			}
			return
		}
	}
	if w.b.hidden >= w.b.opt.MaxHidden {
		w.b.truncate("max_hidden")
		return
	}
	w.b.hidden++
	w.t.Hidden = append(w.t.Hidden, h)
}

func (w *writer) hidden(s string, r rune, k HiddenKind, start, end int) {
	n := int32(len(w.buf))
	w.t.segs = append(w.t.segs, seg{n, n, int32(start), int32(end)})
	h := Hidden{Kind: k, Span: Span{start, end}, Rune: r, Count: 1}
	switch k {
	case Tag:
		h.Suspicious = true
		if len(w.tags) == 0 {
			w.tagSpan = Span{start, end}
		}
		w.tagSpan.End = end
		if r >= 0xE0020 && r <= 0xE007E {
			w.tags = append(w.tags, byte(r-0xE0000))
		}
	case VariationSelector:
		// One selector after an emoji or symbol picks its presentation;
		// runs of them carry bytes (one byte per selector).
		if len(w.vs) == 0 {
			w.vsSpan = Span{start, end}
		}
		w.vsSpan.End = end
		w.vs = append(w.vs, vsByte(r))
		h.Suspicious = len(w.vs) > 1 || !isSymbol(w.lastKept)
	case ZeroWidth:
		switch r {
		case 0x200C, 0x200D:
			// Joiners shape emoji and Indic or Arabic script; inside a
			// Latin word they only break up keywords.
			h.Suspicious = betweenLetters(s, end, w.lastKept)
		case 0xFEFF:
			h.Suspicious = start != 0 // a leading byte-order mark is just that
		default:
			h.Suspicious = true
		}
	case Bidi:
		h.Suspicious = r != 0x200E && r != 0x200F && r != 0x061C
	case Format:
		h.Suspicious = r != 0x00AD // soft hyphens are everywhere in web text
	default:
		h.Suspicious = true
	}
	if k != Tag {
		w.endTags()
	}
	if k != VariationSelector {
		w.endVS()
	}
	w.record(h)
}

// betweenLetters reports whether a zero-width joiner or non-joiner at
// [start, end) splits a Latin word, where it has no typographic purpose.
func betweenLetters(s string, end int, prev rune) bool {
	if !isASCIILetter(prev) {
		return false
	}
	next, _ := utf8.DecodeRuneInString(s[end:])
	return isASCIILetter(next)
}

func isASCIILetter(r rune) bool { return r < 0x80 && unicode.IsLetter(r) }

func isSymbol(r rune) bool {
	return r >= 0x2000 && (unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) || r >= 0x1F000)
}

func vsByte(r rune) byte {
	if r >= 0xFE00 && r <= 0xFE0F {
		return byte(r - 0xFE00)
	}
	if r >= 0xE0100 && r <= 0xE01EF {
		return byte(r - 0xE0100 + 16)
	}
	return 0
}

func (w *writer) endRuns() {
	w.endTags()
	w.endVS()
}

func (w *writer) endTags() {
	if len(w.tags) == 0 {
		w.tags = w.tags[:0]
		return
	}
	payload := string(w.tags)
	w.tags = w.tags[:0]
	w.smuggled("unicode-tags", w.tagSpan, payload)
}

func (w *writer) endVS() {
	if len(w.vs) < 4 {
		w.vs = w.vs[:0]
		return
	}
	payload := string(w.vs)
	w.vs = w.vs[:0]
	if !utf8.ValidString(payload) {
		return
	}
	w.smuggled("variation-selectors", w.vsSpan, payload)
}

// smuggled adds a layer for a payload carried by invisible characters;
// flushTags normalizes it once the parent text is done.
func (w *writer) smuggled(enc string, sp Span, payload string) {
	b := w.b
	switch {
	case w.depth+1 > b.opt.MaxDepth:
		b.truncate("max_depth")
	case b.layers >= b.opt.MaxLayers:
		b.truncate("max_layers")
	case b.decoded+len(payload) > b.opt.MaxDecodedBytes:
		b.truncate("max_decoded_bytes")
	default:
		b.layers++
		b.decoded += len(payload)
		w.t.Layers = append(w.t.Layers, Layer{Encoding: enc, Span: sp, Depth: w.depth + 1, Text: &Text{Orig: payload}})
	}
}

// flushTags ends open runs and normalizes the payloads of the smuggling
// layers the writer collected.
func (w *writer) flushTags() {
	w.endRuns()
	for i := range w.t.Layers {
		l := &w.t.Layers[i]
		if l.Text.Norm == "" && l.Text.Orig != "" && (l.Encoding == "unicode-tags" || l.Encoding == "variation-selectors") {
			l.Text = normalize(l.Text.Orig, l.Depth, w.b)
		}
	}
}

// OrigSpan maps the span [start, end) of t.Norm to the span of t.Orig it
// was normalized from.
func (t *Text) OrigSpan(start, end int) Span {
	if end < start {
		end = start
	}
	sp := Span{t.origOffset(start, false), t.origOffset(end, true)}
	if sp.End < sp.Start {
		sp.End = sp.Start // an empty span over removed characters
	}
	return sp
}

// origOffset maps a Norm offset to an Orig offset. Inside a piece that
// was rewritten, a start maps to the piece's start and an end to its end.
func (t *Text) origOffset(p int, isEnd bool) int {
	segs := t.segs
	// Last segment with nStart <= p (or < p for an end, so an end does not
	// swallow a following hidden character).
	lo, hi := 0, len(segs)
	for lo < hi {
		m := (lo + hi) / 2
		ns := int(segs[m].nStart)
		if ns < p || (!isEnd && ns == p) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return clamp(p, len(t.Orig))
	}
	s := segs[lo-1]
	if p < int(s.nEnd) {
		if isEnd {
			return int(s.oEnd)
		}
		return int(s.oStart)
	}
	return clamp(p+int(s.oEnd)-int(s.nEnd), len(t.Orig))
}

func clamp(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

// Each calls fn for t and then for every decoded layer below it, depth
// first. For t itself l is nil. root is where the content sits in t.Orig:
// the whole of t for t, and for a layer the span of its outermost
// enclosing layer, since a nested payload exists only inside that span.
func (t *Text) Each(fn func(x *Text, l *Layer, root Span)) {
	fn(t, nil, Span{0, len(t.Orig)})
	for i := range t.Layers {
		l := &t.Layers[i]
		l.Text.each(fn, l, l.Span)
	}
}

func (t *Text) each(fn func(x *Text, l *Layer, root Span), l *Layer, root Span) {
	fn(t, l, root)
	for i := range t.Layers {
		t.Layers[i].Text.each(fn, &t.Layers[i], root)
	}
}

// Suspicious reports whether any hidden record is suspicious.
func (t *Text) Suspicious() bool {
	for _, h := range t.Hidden {
		if h.Suspicious {
			return true
		}
	}
	return false
}
