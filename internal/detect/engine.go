package detect

import (
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"mcpwarden/internal/prefilter"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/normalize"
	"mcpwarden/internal/secrets"
)

// Kind says what role a text plays, which decides the rules that apply
// and how much each signal weighs.
type Kind uint8

const (
	_ Kind = iota
	// Description is metadata the model reads as guidance: tool names,
	// titles, descriptions and schemas, prompt and resource metadata,
	// server instructions.
	Description
	// Result is data a tool or server returns: tool results, resource
	// contents, prompt messages. It should carry no instructions at all.
	Result
	// Argument is a value an agent passes to a tool.
	Argument
	numKinds
)

var kindNames = [...]string{"", "description", "result", "argument"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// ParseKind parses "description", "result" or "argument".
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if i > 0 && s == n {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q (want description, result or argument)", s)
}

//go:embed rules/core.yaml
var corePack []byte

// PackSource is a rule pack to load: its name (a file name, for errors)
// and its content.
type PackSource struct {
	Name string
	Data []byte
}

// DefaultThreshold is the score at or above which a verdict is flagged.
const DefaultThreshold = 0.5

// Options configures an [Engine]. The zero value runs the embedded rules.
type Options struct {
	// Packs are user rule packs, applied after the embedded pack in order.
	// A rule with an existing ID replaces it; a pack's disable list
	// switches rules off. A pack that fails to load fails [New].
	Packs []PackSource
	// Disabled lists rule IDs to switch off, as from a config file.
	Disabled []string
	// Threshold is the score at which a verdict is flagged
	// (default [DefaultThreshold]).
	Threshold float64
	// Normalize bounds the normalizer's decoding work.
	Normalize normalize.Options
	// Secrets is the credential detector to use; nil builds the default.
	Secrets *secrets.Detector
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Engine inspects text. Build it once with [New]; it is immutable and
// safe for concurrent use by any number of goroutines.
type Engine struct {
	rs        *ruleSet
	ac        *prefilter.Matcher
	kwRules   [][]*rule // keyword ID → pattern and counter rules
	secKW     []int     // keyword ID → secret detector keyword, or -1
	byDet     map[string][]*rule
	combos    []*rule
	threshold float64
	norm      normalize.Options
	sec       *secrets.Detector
	log       *slog.Logger
}

// New compiles the embedded rule pack and opt.Packs into an engine.
func New(opt Options) (*Engine, error) {
	core, err := ParsePack("core.yaml (embedded)", corePack)
	if err != nil {
		return nil, err
	}
	packs := []*Pack{core}
	for _, src := range opt.Packs {
		p, err := ParsePack(src.Name, src.Data)
		if err != nil {
			return nil, err
		}
		packs = append(packs, p)
	}
	rs, err := buildRuleSet(packs, opt.Disabled, detectorNames)
	if err != nil {
		return nil, err
	}
	e := &Engine{rs: rs, threshold: opt.Threshold, norm: opt.Normalize, sec: opt.Secrets, log: opt.Logger, byDet: map[string][]*rule{}}
	if e.threshold <= 0 {
		e.threshold = DefaultThreshold
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.sec == nil {
		if e.sec, err = secrets.New(secrets.Options{}); err != nil {
			return nil, fmt.Errorf("building secret detector: %w", err)
		}
	}
	kwIndex := map[string]int{}
	var kws []string
	for _, r := range rs.rules {
		switch r.kind {
		case rulePattern, ruleCounter:
			for _, k := range r.keywords {
				i, ok := kwIndex[k]
				if !ok {
					i = len(kws)
					kwIndex[k] = i
					kws = append(kws, k)
					e.kwRules = append(e.kwRules, nil)
				}
				e.kwRules[i] = append(e.kwRules[i], r)
			}
		case ruleDetector:
			e.byDet[r.detector] = append(e.byDet[r.detector], r)
		case ruleCombo:
			e.combos = append(e.combos, r)
		}
	}
	// Near literals join the automaton so that checking them costs a
	// look at the hits already found, not another scan.
	addKW := func(k string) int {
		i, ok := kwIndex[k]
		if !ok {
			i = len(kws)
			kwIndex[k] = i
			kws = append(kws, k)
			e.kwRules = append(e.kwRules, nil)
		}
		return i
	}
	for _, r := range rs.rules {
		for _, k := range r.near {
			addKW(k)
		}
	}
	// The secret detector's keywords join too: one pass serves both.
	secIDs := map[int]int{}
	for i, k := range e.sec.Keywords() {
		secIDs[addKW(k)] = i
	}
	e.secKW = make([]int, len(kws))
	for i := range e.secKW {
		e.secKW[i] = -1
		if k, ok := secIDs[i]; ok {
			e.secKW[i] = k
		}
	}
	for _, r := range rs.rules {
		if len(r.near) > 0 {
			r.nearIDs = make([]bool, len(kws))
			for _, k := range r.near {
				r.nearIDs[kwIndex[k]] = true
			}
		}
	}
	if len(kws) > 0 {
		if e.ac, err = prefilter.New(kws); err != nil {
			return nil, fmt.Errorf("building keyword automaton: %w", err)
		}
	}
	e.log.Debug("detection engine ready", "component", "detect", "rules", len(rs.rules), "packs", rs.packs, "keywords", len(kws))
	return e, nil
}

// Packs names the loaded rule packs as "name@version", in load order.
func (e *Engine) Packs() []string { return append([]string(nil), e.rs.packs...) }

// Threshold is the score at which verdicts are flagged.
func (e *Engine) Threshold() float64 { return e.threshold }

// Secrets is the credential detector the engine uses.
func (e *Engine) Secrets() *secrets.Detector { return e.sec }

// RuleInfo describes a loaded rule.
type RuleInfo struct {
	ID       string                      `json:"id"`
	Pack     string                      `json:"pack"`
	Type     string                      `json:"type"`
	Group    string                      `json:"group"`
	Severity finding.Severity            `json:"severity"`
	Title    string                      `json:"title"`
	Weights  map[string]float64          `json:"weights"`
	Category map[string]finding.Category `json:"category,omitempty"`
}

// Rules lists the loaded rules in pack order.
func (e *Engine) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(e.rs.rules))
	for _, r := range e.rs.rules {
		ri := RuleInfo{ID: r.id, Pack: r.pack, Type: [...]string{"pattern", "detector", "combo", "counter"}[r.kind],
			Group: r.group, Severity: r.severity, Title: r.title, Weights: map[string]float64{}, Category: map[string]finding.Category{}}
		for k := Description; k < numKinds; k++ {
			if r.weight[k] > 0 {
				ri.Weights[k.String()] = r.weight[k]
				if r.category[k] != "" {
					ri.Category[k.String()] = r.category[k]
				}
			}
		}
		out = append(out, ri)
	}
	return out
}

// Field is one text to inspect and the path that names it in findings:
// "description", "inputSchema.properties.path.description",
// "content[0].text".
type Field struct {
	Path string
	Text string
}

// Verdict is the engine's decision about one unit of content (a tool, a
// prompt, a result, a text).
type Verdict struct {
	// Flagged is true when Score reaches the engine's threshold: the
	// default policy would act on this content.
	Flagged bool `json:"flagged"`
	// Score combines every signal, 0..1.
	Score float64 `json:"score"`
	// Scores is the score per category, for policies with per-category
	// thresholds.
	Scores map[finding.Category]float64 `json:"scores,omitempty"`
	// Findings are the signals, strongest first. Their Confidence is the
	// weight each contributed after counter-evidence.
	Findings []finding.Finding `json:"findings"`
	// Secrets are the credentials found, with spans per field, for
	// redaction.
	Secrets []SecretSpan `json:"-"`
}

// SecretSpan is a credential found in a field.
type SecretSpan struct {
	Field string
	Match secrets.Match
}

// Above reports whether the score of category c reaches threshold.
func (v Verdict) Above(c finding.Category, threshold float64) bool {
	return v.Scores[c] >= threshold
}

// signal is one rule firing.
type signal struct {
	r      *rule
	field  string
	span   normalize.Span
	quote  string
	note   string
	weight float64
}

// noSpan marks evidence that is a whole field or a name, not a span of
// text (a schema parameter, for example).
var noSpan = normalize.Span{Start: -1, End: -1}

// state collects signals during one inspection.
type state struct {
	kind     Kind
	signals  []signal
	counters []signal
	secrets  []SecretSpan
}

func (st *state) add(r *rule, field string, sp normalize.Span, quote, note string, scale float64) {
	w := r.weight[st.kind] * scale
	if w <= 0 {
		return
	}
	st.signals = append(st.signals, signal{r: r, field: field, span: sp, quote: quote, note: note, weight: w})
}

// Inspect inspects fields of one kind as one unit and returns its
// verdict. Signals from every field combine into one score.
func (e *Engine) Inspect(k Kind, fields ...Field) Verdict {
	st := &state{kind: k}
	for _, f := range fields {
		e.scanField(st, f)
	}
	return e.finish(st)
}

// InspectText inspects a single text; its findings name the field by
// kind ("description", "result" or "argument").
func (e *Engine) InspectText(k Kind, text string) Verdict {
	return e.Inspect(k, Field{Path: k.String(), Text: text})
}

func (e *Engine) scanField(st *state, f Field) {
	if f.Text == "" {
		return
	}
	t := normalize.Normalize(f.Text, e.norm)
	var secretHits []secrets.Hit
	t.Each(func(x *normalize.Text, l *normalize.Layer, root normalize.Span) {
		hits := e.scanPatterns(st, f.Path, t, x, l, root)
		if l == nil {
			secretHits = e.secretHits(t, hits)
		}
	})
	e.detectHidden(st, f.Path, t)
	e.detectSecrets(st, f.Path, t, secretHits)
	e.detectStructure(st, f.Path, t)
	e.detectArgument(st, f.Path, f.Text)
	if len(t.Truncated) > 0 {
		for _, r := range e.byDet["budget"] {
			st.add(r, f.Path, normalize.Span{Start: 0, End: len(f.Text)}, "", "decoding stopped at "+strings.Join(t.Truncated, ", "), 1)
		}
	}
}

// maxLineSnap bounds how far a window is widened to reach a line break.
const maxLineSnap = 400

// scanPatterns runs the prefilter over one normalized text and each
// triggered rule in a window around its keywords.
// It returns the automaton's hits, which also carry the secret
// detector's keywords.
func (e *Engine) scanPatterns(st *state, field string, root *normalize.Text, x *normalize.Text, l *normalize.Layer, rootSpan normalize.Span) []prefilter.Match {
	if e.ac == nil || x.Norm == "" {
		return nil
	}
	s := x.Norm
	hits := e.ac.Scan(s, nil)
	if len(hits) == 0 {
		return nil
	}
	var scanned map[*rule]int
	for _, h := range hits {
		// Keywords are word prefixes: "nc " must not fire inside "sync ".
		if c := s[h.Start]; isAlnum(c) && h.Start > 0 && isAlnum(s[h.Start-1]) {
			continue
		}
		for _, r := range e.kwRules[h.Pattern] {
			if r.weight[st.kind] == 0 {
				continue
			}
			if r.upper {
				sp := x.OrigSpan(h.Start, h.End)
				if !mostlyUpper(x.Orig[sp.Start:sp.End]) {
					continue
				}
			}
			if r.lineSt && !opensLine(s, h.Start) {
				continue
			}
			if r.re == nil {
				e.emit(st, r, field, root, x, l, rootSpan, h.Start, h.End)
				continue
			}
			if scanned == nil {
				scanned = map[*rule]int{}
			}
			ws, we := max(h.Start-r.before, 0), min(h.End+r.after, len(s))
			if done := scanned[r]; we <= done {
				continue
			} else if ws < done {
				ws = done
			}
			if r.lines {
				ws, we = snapLines(s, ws, we)
			}
			scanned[r] = we
			if r.nearIDs != nil && !nearHit(hits, r.nearIDs, ws, we) {
				continue
			}
			for _, m := range r.re.FindAllStringIndex(s[ws:we], 4) {
				e.emit(st, r, field, root, x, l, rootSpan, ws+m[0], ws+m[1])
			}
		}
	}
	return hits
}

// secretHits translates the automaton's hits on secret keywords into
// hits on the original text for the secret detector.
func (e *Engine) secretHits(t *normalize.Text, hits []prefilter.Match) []secrets.Hit {
	var out []secrets.Hit
	for _, h := range hits {
		if k := e.secKW[h.Pattern]; k >= 0 {
			sp := t.OrigSpan(h.Start, h.End)
			if sp.Start < sp.End {
				out = append(out, secrets.Hit{Keyword: k, Start: sp.Start, End: sp.End})
			}
		}
	}
	// Mapping can reorder hits that end inside one rewritten piece.
	sort.SliceStable(out, func(i, j int) bool { return out[i].End < out[j].End })
	return out
}

// nearHit reports whether a hit of one of the ids lies inside [ws, we).
// Hits are ordered by end offset.
func nearHit(hits []prefilter.Match, ids []bool, ws, we int) bool {
	i := sort.Search(len(hits), func(i int) bool { return hits[i].End > ws })
	for ; i < len(hits) && hits[i].Start < we; i++ {
		if h := hits[i]; h.Start >= ws && h.End <= we && ids[h.Pattern] {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
}

// opensLine reports whether position i starts its line, allowing blanks
// and a leading "please".
func opensLine(s string, i int) bool {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if j >= 7 && s[j-7:j] == "please " || j >= 6 && s[j-6:j] == "please" {
		j -= 6
		if j > 0 && s[j-1] == ' ' {
			j--
		}
		for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
			j--
		}
	}
	return j == 0 || s[j-1] == '\n' || s[j-1] == '\r'
}

// snapLines widens [ws, we) to whole lines when a line break is near, so
// line-anchored patterns see whole lines.
func snapLines(s string, ws, we int) (int, int) {
	if i := strings.LastIndexByte(s[max(0, ws-maxLineSnap):ws], '\n'); i >= 0 {
		ws = max(0, ws-maxLineSnap) + i + 1
	} else if ws <= maxLineSnap {
		ws = 0
	}
	if i := strings.IndexByte(s[we:min(len(s), we+maxLineSnap)], '\n'); i >= 0 {
		we += i
	} else if len(s)-we <= maxLineSnap {
		we = len(s)
	}
	return ws, we
}

// lineAt returns the line of s around [start, end), bounded.
func lineAt(s string, start, end int) string {
	ls := strings.LastIndexByte(s[max(0, start-maxLineSnap):start], '\n')
	if ls < 0 {
		ls = max(0, start-maxLineSnap)
	} else {
		ls += max(0, start-maxLineSnap) + 1
	}
	le := strings.IndexByte(s[end:min(len(s), end+maxLineSnap)], '\n')
	if le < 0 {
		le = min(len(s), end+maxLineSnap)
	} else {
		le += end
	}
	return s[ls:le]
}

func (e *Engine) emit(st *state, r *rule, field string, root, x *normalize.Text, l *normalize.Layer, rootSpan normalize.Span, ms, me int) {
	// Patterns may begin at a sentence or line boundary; quote and judge
	// the text from its first word.
	for ms < me && strings.IndexByte(" \t\r\n.!?:;,", x.Norm[ms]) >= 0 {
		ms++
	}
	if r.unless != nil && r.unless.MatchString(lineAt(x.Norm, ms, me)) {
		return
	}
	osp := x.OrigSpan(ms, me)
	if r.upper && !mostlyUpper(x.Orig[osp.Start:osp.End]) {
		return
	}
	sp, quote, note := osp, e.redact(x.Orig[osp.Start:osp.End]), ""
	if l != nil {
		sp = rootSpan
		note = "decoded from " + l.Encoding
	}
	sig := signal{r: r, field: field, span: sp, quote: quote, note: note, weight: r.weight[st.kind]}
	if r.kind == ruleCounter {
		st.counters = append(st.counters, sig)
		return
	}
	st.signals = append(st.signals, sig)
	if l != nil {
		for _, d := range e.byDet["encoded.instructions"] {
			st.add(d, field, sp, e.redact(clip(root.Orig[sp.Start:sp.End])), "a rule matched text decoded from "+l.Encoding+": "+r.id, 1)
		}
	}
}

func mostlyUpper(s string) bool {
	var up, low int
	for _, c := range s {
		if unicode.IsUpper(c) {
			up++
		} else if unicode.IsLower(c) {
			low++
		}
	}
	return up > 0 && low*5 <= up
}

// maxQuote bounds evidence quotes.
const maxQuote = 160

func clip(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// finish turns signals into a verdict: counter-evidence scales signals
// down, combos add signals, each group contributes its strongest signal,
// and the groups combine by noisy-OR.
func (e *Engine) finish(st *state) Verdict {
	k := st.kind
	// Each counter rule weakens the signals of its field once, however
	// often it matched.
	type cf struct {
		r     *rule
		field string
	}
	applied := map[cf]bool{}
	for _, c := range st.counters {
		if applied[cf{c.r, c.field}] {
			continue
		}
		applied[cf{c.r, c.field}] = true
		for i := range st.signals {
			if s := &st.signals[i]; s.field == c.field && hasPrefix(s.r.id, c.r.applies) {
				s.weight *= c.r.factor
			}
		}
	}
	best := map[string]signal{}
	keep := func(s signal) {
		if g, ok := best[s.r.group]; !ok || s.weight > g.weight {
			best[s.r.group] = s
		}
	}
	for _, s := range st.signals {
		keep(s)
	}
	for _, c := range e.combos {
		if c.weight[k] == 0 {
			continue
		}
		var ids []string
		var first signal
		for i, g := range c.all {
			s, ok := best[g]
			if !ok || s.weight < minComboPart {
				ids = nil
				break
			}
			if i == 0 {
				first = s
			}
			ids = append(ids, s.r.id)
		}
		if ids == nil {
			continue
		}
		s := signal{r: c, field: first.field, span: first.span, quote: first.quote,
			note: "together: " + strings.Join(ids, " + "), weight: c.weight[k]}
		st.signals = append(st.signals, s)
		keep(s)
	}
	v := Verdict{Scores: map[finding.Category]float64{}, Secrets: st.secrets}
	miss := 1.0
	catMiss := map[finding.Category]float64{}
	for _, s := range best {
		miss *= 1 - s.weight
		c := s.r.category[k]
		if _, ok := catMiss[c]; !ok {
			catMiss[c] = 1
		}
		catMiss[c] *= 1 - s.weight
	}
	v.Score = round3(1 - miss)
	for c, m := range catMiss {
		v.Scores[c] = round3(1 - m)
	}
	v.Flagged = v.Score >= e.threshold
	v.Findings = findings(st.signals, k)
	if v.Findings == nil {
		v.Findings = []finding.Finding{} // always an array in JSON
	}
	return v
}

// minComboPart is the weight below which a signal, weakened by
// counter-evidence, no longer counts towards a combo.
const minComboPart = 0.05

func hasPrefix(id string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// maxEvidence bounds the evidence items per finding.
const maxEvidence = 3

// findings folds signals into one finding per rule, strongest first.
func findings(sigs []signal, k Kind) []finding.Finding {
	type key struct{ id string }
	idx := map[key]int{}
	var out []finding.Finding
	for _, s := range sigs {
		kk := key{s.r.id}
		i, ok := idx[kk]
		if !ok {
			i = len(out)
			idx[kk] = i
			out = append(out, finding.Finding{RuleID: s.r.id, Category: s.r.category[k], Severity: s.r.severity,
				Title: s.r.title, Detail: s.r.detail})
		}
		f := &out[i]
		if w := round3(s.weight); w > f.Confidence {
			f.Confidence = w
		}
		if len(f.Evidence) < maxEvidence && !sameEvidence(f.Evidence, s) {
			ev := finding.Evidence{Field: s.field, Text: clip(s.quote), Note: s.note}
			if s.span != noSpan {
				ev.Span = &finding.Span{Start: s.span.Start, End: s.span.End}
			}
			f.Evidence = append(f.Evidence, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Confidence != out[j].Confidence {
			return out[i].Confidence > out[j].Confidence
		}
		return out[i].RuleID < out[j].RuleID
	})
	return out
}

func sameEvidence(ev []finding.Evidence, s signal) bool {
	for _, e := range ev {
		if e.Field == s.field && (e.Span == nil && s.span == noSpan || e.Span != nil && e.Span.Start == s.span.Start && e.Span.End == s.span.End) {
			return true
		}
	}
	return false
}

// redact removes credentials from evidence quotes.
func (e *Engine) redact(s string) string {
	out, _ := e.sec.Redact(s)
	return out
}
