package argcheck

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"mcpwarden/internal/classify"
	"mcpwarden/internal/config"
	"mcpwarden/internal/finding"
	"mcpwarden/internal/toolmatch"
)

// Rule IDs of the arguments control. They are stable and never reused.
const (
	RuleSchema        = "args.schema"         // the arguments do not validate against the inputSchema
	RuleSchemaInvalid = "args.schema_invalid" // the inputSchema cannot be compiled or is too complex
	RulePattern       = "args.pattern"
	RuleEnum          = "args.enum"
	RuleMaxLength     = "args.max_length"
	RulePathRoot      = "args.path_root"
	RuleURL           = "args.url"
	RuleCommand       = "args.command"
	RuleFindings      = "args.findings"
	RuleNotString     = "args.not_string" // a constrained argument is not a string
)

// toolRules are the constraints of the tools matching one pattern.
type toolRules struct {
	match toolmatch.Pattern
	args  []argRules // sorted by name, for stable denials
}

type argRules struct {
	name     string // "path", "options.dir" or "*"
	pattern  *regexp.Regexp
	patSrc   string
	enum     []string
	maxLen   int
	jail     *jail
	url      *urlRule
	commands []string
	findings []string
}

func compileRules(p config.ArgumentsPolicy, resolvePath func(string) string, home string) ([]toolRules, error) {
	var out []toolRules
	for i, t := range p.Tools {
		m, err := toolmatch.Parse(t.Match)
		if err != nil {
			return nil, fmt.Errorf("policy.arguments.tools[%d]: %w", i, err)
		}
		tr := toolRules{match: m}
		// In name order, so errors and the order rules run in do not
		// depend on map iteration.
		for _, name := range slices.Sorted(maps.Keys(t.Arguments)) {
			r := t.Arguments[name]
			ar := argRules{name: name, enum: r.Enum, maxLen: r.MaxLength, commands: r.Command, findings: r.DenyFindings}
			if r.Pattern != "" {
				re, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
				if err != nil {
					return nil, fmt.Errorf("policy.arguments.tools[%d].arguments.%s.pattern: %w", i, name, err)
				}
				ar.pattern, ar.patSrc = re, r.Pattern
			}
			if len(r.PathRoot) > 0 {
				dirs := make([]string, len(r.PathRoot))
				for k, d := range r.PathRoot {
					dirs[k] = resolvePath(d)
				}
				if ar.jail, err = newJail(dirs, home); err != nil {
					return nil, fmt.Errorf("policy.arguments.tools[%d].arguments.%s: %w", i, name, err)
				}
			}
			if r.URL != nil {
				if ar.url, err = newURLRule(r.URL); err != nil {
					return nil, fmt.Errorf("policy.arguments.tools[%d].arguments.%s.url: %w", i, name, err)
				}
			}
			tr.args = append(tr.args, ar)
		}
		sort.Slice(tr.args, func(a, b int) bool { return tr.args[a].name < tr.args[b].name })
		out = append(out, tr)
	}
	return out, nil
}

// violation is one failed constraint.
type violation struct {
	rule, arg, why string
}

func (v violation) reason() string {
	return fmt.Sprintf("argument %q violates %s: %s", v.arg, strings.TrimPrefix(v.rule, "args."), v.why)
}

// value is one argument value a rule applies to.
type value struct {
	path string
	v    any
}

// select returns the values named by a rule's argument name in args.
func selectValues(args map[string]any, name string) []value {
	if name == "*" {
		var out []value
		var walk func(p string, v any)
		walk = func(p string, v any) {
			switch x := v.(type) {
			case string:
				out = append(out, value{p, x})
			case map[string]any:
				for _, k := range sortedKeys(x) {
					walk(join(p, k), x[k])
				}
			case []any:
				for i, e := range x {
					walk(fmt.Sprintf("%s[%d]", p, i), e)
				}
			}
		}
		for _, k := range sortedKeys(args) {
			walk(k, args[k])
		}
		return out
	}
	cur := any(args)
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	if arr, ok := cur.([]any); ok {
		out := make([]value, len(arr))
		for i, e := range arr {
			out[i] = value{fmt.Sprintf("%s[%d]", name, i), e}
		}
		return out
	}
	return []value{{name, cur}}
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// check applies one argument's constraints to one value. findings holds
// the detection engine's findings on the whole arguments object, computed
// lazily by the caller.
func (ar *argRules) check(ctx context.Context, res Resolver, val value, findings func() []finding.Finding) *violation {
	s, isString := val.v.(string)
	if !isString {
		if ar.jail != nil || ar.url != nil || len(ar.commands) > 0 || ar.pattern != nil || len(ar.enum) > 0 || ar.maxLen > 0 {
			return &violation{RuleNotString, val.path, fmt.Sprintf("expected a string, got %s", jsonKind(val.v))}
		}
	}
	if isString {
		if ar.maxLen > 0 {
			if n := utf8.RuneCountInString(s); n > ar.maxLen {
				return &violation{RuleMaxLength, val.path, fmt.Sprintf("%d characters, at most %d allowed", n, ar.maxLen)}
			}
		}
		if len(ar.enum) > 0 && !slices.Contains(ar.enum, s) {
			return &violation{RuleEnum, val.path, fmt.Sprintf("%q is not one of %s", clip(s), strings.Join(ar.enum, ", "))}
		}
		if ar.pattern != nil && !ar.pattern.MatchString(s) {
			return &violation{RulePattern, val.path, fmt.Sprintf("the value does not match %s", ar.patSrc)}
		}
		if len(ar.commands) > 0 {
			if why := checkCommand(s, ar.commands); why != "" {
				return &violation{RuleCommand, val.path, why}
			}
		}
		if ar.jail != nil {
			if why := ar.jail.check(s); why != "" {
				return &violation{RulePathRoot, val.path, why}
			}
		}
		if ar.url != nil {
			if why := ar.url.check(ctx, res, s); why != "" {
				return &violation{RuleURL, val.path, why}
			}
		}
	}
	if len(ar.findings) > 0 {
		for _, f := range findings() {
			if !deniedFinding(f, ar.findings) {
				continue
			}
			for _, ev := range f.Evidence {
				field := strings.TrimPrefix(ev.Field, "arguments.")
				if field == val.path || strings.HasPrefix(field, val.path+".") || strings.HasPrefix(field, val.path+"[") {
					return &violation{RuleFindings, val.path, fmt.Sprintf("the detector reports %s (%s): %s", f.RuleID, f.Category, f.Title)}
				}
			}
		}
	}
	return nil
}

func deniedFinding(f finding.Finding, deny []string) bool {
	for _, d := range deny {
		if string(f.Category) == d || f.RuleID == d {
			return true
		}
		if p := strings.TrimSuffix(d, ".") + "."; strings.HasPrefix(f.RuleID, p) {
			return true
		}
	}
	return false
}

// checkCommand requires the value's first word to be an allowed command
// and the whole value to be free of shell metacharacters: anything
// classify.Shell reports (separators, pipes, substitutions, redirections,
// quotes, variables, globs, line breaks ...).
func checkCommand(s string, allowed []string) string {
	r := classify.Shell(s)
	if len(r.Reasons) > 0 {
		x := r.Reasons[0]
		return fmt.Sprintf("shell metacharacters are not allowed (%s: %s)", x.Code, x.Detail)
	}
	words := strings.Fields(s)
	if len(words) == 0 {
		return "the value is empty"
	}
	if !slices.Contains(allowed, words[0]) {
		return fmt.Sprintf("%q is not an allowed command (allowed: %s)", clip(words[0]), strings.Join(allowed, ", "))
	}
	return ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	}
	return "a number"
}
