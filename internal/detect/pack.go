package detect

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/finding"
)

// PackFormat is the format line every rule pack must carry.
const PackFormat = "mcpwarden.rules/v1"

// Pack is a versioned rule file. See docs/detection.md for the format.
type Pack struct {
	Format  string     `yaml:"format"`
	Name    string     `yaml:"pack"`
	Version string     `yaml:"version"`
	Rules   []RuleSpec `yaml:"rules"`
	// Disable lists rule IDs (of this or earlier packs) to switch off.
	Disable []string `yaml:"disable"`
}

// RuleSpec is one rule as written in a pack.
type RuleSpec struct {
	ID string `yaml:"id"`
	// Type is "pattern" (the default), "detector" (a built-in Go
	// detector named by Detector), "combo" (fires when every group in
	// All fired) or "counter" (counter-evidence that scales down the
	// signals whose IDs start with one of Applies).
	Type     string   `yaml:"type"`
	Detector string   `yaml:"detector"`
	Category PerKind  `yaml:"category"`
	Severity string   `yaml:"severity"`
	Weight   PerKind  `yaml:"weight"`
	Kinds    []string `yaml:"kinds"`
	Group    string   `yaml:"group"`
	Title    string   `yaml:"title"`
	Detail   string   `yaml:"detail"`
	Keywords []string `yaml:"keywords"`
	Pattern  string   `yaml:"pattern"`
	// Unless is counter-evidence on the same line as a match: a match
	// whose line also matches Unless is dropped.
	Unless string `yaml:"unless"`
	// Upper requires the matched original text to be written in capitals
	// ("IMPORTANT:", not "important"); keywords written in lower case
	// are skipped without running the pattern.
	Upper bool `yaml:"upper"`
	// Near lists literals (lower-case) one of which must occur in the
	// window before the pattern runs: a cheap second keyword for rules
	// whose primary keywords (URLs, "@") are common.
	Near []string `yaml:"near"`
	// LineStart requires a keyword to open its line (after blanks and an
	// optional "please"); the pattern then sees that line.
	LineStart bool `yaml:"line_start"`
	// Before and After size the window around a keyword the pattern runs
	// in (defaults 120 and 240 bytes; line-anchored patterns see whole
	// lines).
	Before int `yaml:"before"`
	After  int `yaml:"after"`
	// All lists the groups a combo needs.
	All []string `yaml:"all"`
	// Applies and Factor shape a counter rule.
	Applies []string `yaml:"applies"`
	Factor  float64  `yaml:"factor"`
}

// PerKind is a value that is either the same for every kind of text
// ("0.6") or given per kind ("{description: 0.6, result: 0.3}").
type PerKind map[string]string

// UnmarshalYAML accepts a scalar or a mapping.
func (p *PerKind) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*p = PerKind{"*": n.Value}
		return nil
	case yaml.MappingNode:
		m := map[string]string{}
		if err := n.Decode(&m); err != nil {
			return err
		}
		*p = m
		return nil
	}
	return fmt.Errorf("line %d: want a value or a mapping of kind to value", n.Line)
}

func (p PerKind) get(k Kind) (string, bool) {
	if v, ok := p[k.String()]; ok {
		return v, true
	}
	v, ok := p["*"]
	return v, ok
}

// ParsePack decodes a rule pack strictly. Name is used in errors.
func ParsePack(name string, data []byte) (*Pack, error) {
	var p Pack
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("rule pack %s: %w", name, err)
	}
	if p.Format != PackFormat {
		return nil, fmt.Errorf("rule pack %s: format %q, want %q", name, p.Format, PackFormat)
	}
	if p.Name == "" || p.Version == "" {
		return nil, fmt.Errorf("rule pack %s: needs both pack and version", name)
	}
	if len(p.Rules) == 0 && len(p.Disable) == 0 {
		return nil, fmt.Errorf("rule pack %s: no rules and nothing disabled", name)
	}
	return &p, nil
}

// ruleKind is the compiled form of RuleSpec.Type.
type ruleKind uint8

const (
	rulePattern ruleKind = iota
	ruleDetector
	ruleCombo
	ruleCounter
)

// rule is a compiled rule.
type rule struct {
	id       string
	kind     ruleKind
	detector string
	group    string
	category [numKinds]finding.Category
	weight   [numKinds]float64 // 0 where the rule does not apply
	severity finding.Severity
	title    string
	detail   string
	keywords []string
	re       *regexp.Regexp
	unless   *regexp.Regexp
	upper    bool
	lineSt   bool
	near     []string
	nearIDs  []bool // automaton pattern IDs of near, set by New
	lines    bool   // the pattern is line-anchored: widen windows to lines
	before   int
	after    int
	all      []string
	applies  []string
	factor   float64
	pack     string
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// compileRule validates and compiles one rule.
func compileRule(pack string, s RuleSpec, detectors map[string]bool) (*rule, error) {
	if !idRE.MatchString(s.ID) {
		return nil, fmt.Errorf("id %q: want dotted lower-case, e.g. injection.override", s.ID)
	}
	r := &rule{id: s.ID, group: s.Group, title: s.Title, detail: s.Detail, upper: s.Upper, lineSt: s.LineStart, near: s.Near, pack: pack,
		before: s.Before, after: s.After, all: s.All, applies: s.Applies, factor: s.Factor}
	if r.group == "" {
		r.group = s.ID
	}
	if r.before == 0 {
		r.before = 120
	}
	if r.after == 0 {
		r.after = 240
	}
	r.lines = strings.Contains(s.Pattern, "(?m)") || s.LineStart
	switch s.Type {
	case "", "pattern":
		r.kind = rulePattern
		if len(s.Keywords) == 0 {
			return nil, errors.New("pattern rule needs keywords for the prefilter")
		}
		for _, k := range s.Keywords {
			if k == "" || strings.ToLower(k) != k {
				return nil, fmt.Errorf("keyword %q: keywords match normalized text and must be lower-case", k)
			}
		}
		r.keywords = s.Keywords
		if s.Pattern != "" {
			re, err := regexp.Compile(spaced(s.Pattern))
			if err != nil {
				return nil, fmt.Errorf("pattern: %w", err)
			}
			r.re = re
		}
	case "detector":
		r.kind = ruleDetector
		if !detectors[s.Detector] {
			return nil, fmt.Errorf("unknown detector %q", s.Detector)
		}
		r.detector = s.Detector
	case "combo":
		r.kind = ruleCombo
		if len(s.All) < 2 {
			return nil, errors.New("combo rule needs at least two groups in all")
		}
	case "counter":
		r.kind = ruleCounter
		if len(s.Keywords) == 0 || s.Pattern == "" {
			return nil, errors.New("counter rule needs keywords and a pattern")
		}
		if s.Factor <= 0 || s.Factor >= 1 {
			return nil, fmt.Errorf("counter factor %v: want 0 < factor < 1", s.Factor)
		}
		if len(s.Applies) == 0 {
			return nil, errors.New("counter rule needs applies: the rule ID prefixes it weakens")
		}
		r.keywords = s.Keywords
		re, err := regexp.Compile(spaced(s.Pattern))
		if err != nil {
			return nil, fmt.Errorf("pattern: %w", err)
		}
		r.re = re
	default:
		return nil, fmt.Errorf("type %q: want pattern, detector, combo or counter", s.Type)
	}
	if s.Unless != "" {
		re, err := regexp.Compile(spaced(s.Unless))
		if err != nil {
			return nil, fmt.Errorf("unless: %w", err)
		}
		r.unless = re
	}
	if r.kind != ruleCounter {
		if s.Title == "" || s.Detail == "" {
			return nil, errors.New("title and detail are required")
		}
		sev, err := finding.ParseSeverity(s.Severity)
		if err != nil {
			return nil, err
		}
		r.severity = sev
	}
	kinds := s.Kinds
	if len(kinds) == 0 {
		kinds = []string{"description", "result"}
		if r.kind == ruleDetector || r.kind == ruleCombo {
			kinds = []string{"description", "result", "argument"}
		}
	}
	for _, name := range kinds {
		k, err := ParseKind(name)
		if err != nil {
			return nil, err
		}
		w := 1.0
		if r.kind != ruleCounter {
			ws, ok := s.Weight.get(k)
			if !ok {
				continue // applies to this kind only if it has a weight
			}
			if _, err := fmt.Sscan(ws, &w); err != nil || w < 0 || w > 1 {
				return nil, fmt.Errorf("weight %q for %s: want a number in 0..1", ws, k)
			}
			cs, ok := s.Category.get(k)
			if !ok {
				return nil, fmt.Errorf("no category for %s", k)
			}
			c := autoCategory(cs, k)
			if !c.Valid() {
				return nil, fmt.Errorf("category %q: not a known category", cs)
			}
			r.category[k] = c
		}
		r.weight[k] = w
	}
	return r, nil
}

// autoCategory resolves "auto": instructions aimed at the model are tool
// poisoning in metadata and indirect prompt injection in data.
func autoCategory(c string, k Kind) finding.Category {
	if c != "auto" {
		return finding.Category(c)
	}
	if k == Description {
		return finding.ToolPoisoning
	}
	return finding.IndirectPromptInjection
}

// spaced lets rule authors write a plain space for "some whitespace": a
// space outside a character class becomes \s+.
func spaced(p string) string {
	var b strings.Builder
	inClass, esc := false, false
	for _, c := range p {
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '[' && !inClass:
			inClass = true
		case c == ']' && inClass:
			inClass = false
		case c == ' ' && !inClass:
			b.WriteString(`\s+`)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ruleSet is the merged, compiled result of every pack.
type ruleSet struct {
	rules    []*rule
	packs    []string // "name@version"
	byID     map[string]*rule
	disabled []string
}

// buildRuleSet merges packs in order: a later rule with the same ID
// replaces the earlier one in place; disabled IDs are dropped at the end.
func buildRuleSet(packs []*Pack, disabled []string, detectors map[string]bool) (*ruleSet, error) {
	rs := &ruleSet{byID: map[string]*rule{}}
	var order []string
	off := map[string]bool{}
	for _, p := range packs {
		rs.packs = append(rs.packs, p.Name+"@"+p.Version)
		seen := map[string]bool{}
		for i, s := range p.Rules {
			if seen[s.ID] {
				return nil, fmt.Errorf("rule pack %s: rule %q defined twice", p.Name, s.ID)
			}
			seen[s.ID] = true
			r, err := compileRule(p.Name, s, detectors)
			if err != nil {
				return nil, fmt.Errorf("rule pack %s: rule %d (%s): %w", p.Name, i, s.ID, err)
			}
			if _, ok := rs.byID[r.id]; !ok {
				order = append(order, r.id)
			}
			rs.byID[r.id] = r
			delete(off, r.id)
		}
		for _, id := range p.Disable {
			off[id] = true
		}
	}
	for _, id := range disabled {
		off[id] = true
	}
	for id := range off {
		if _, ok := rs.byID[id]; !ok {
			return nil, fmt.Errorf("cannot disable unknown rule %q", id)
		}
		delete(rs.byID, id)
		rs.disabled = append(rs.disabled, id)
	}
	sort.Strings(rs.disabled)
	for _, id := range order {
		if r, ok := rs.byID[id]; ok {
			rs.rules = append(rs.rules, r)
		}
	}
	groups := map[string]bool{}
	for _, r := range rs.rules {
		groups[r.group] = true
	}
	for _, r := range rs.rules {
		if r.kind == ruleCombo {
			for _, g := range r.all {
				if !groups[g] {
					return nil, fmt.Errorf("combo rule %s needs unknown group %q", r.id, g)
				}
			}
		}
	}
	if len(rs.rules) == 0 {
		return nil, errors.New("every rule is disabled")
	}
	return rs, nil
}
