package pin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ItemKind is what a change is about.
type ItemKind string

const (
	KindServer           ItemKind = "server"
	KindTool             ItemKind = "tool"
	KindPrompt           ItemKind = "prompt"
	KindResourceTemplate ItemKind = "resource_template"
	KindInstructions     ItemKind = "instructions"
)

// ChangeKind classifies a change for people and for policy.
type ChangeKind string

const (
	ServerAdded              ChangeKind = "server_added"
	ServerRemoved            ChangeKind = "server_removed"
	IdentityChanged          ChangeKind = "identity_changed" // new version, digest or binary hash
	ToolAdded                ChangeKind = "tool_added"
	ToolRemoved              ChangeKind = "tool_removed"
	DescriptionChanged       ChangeKind = "description_changed"
	TitleChanged             ChangeKind = "title_changed"
	ParamAdded               ChangeKind = "param_added"
	ParamRemoved             ChangeKind = "param_removed"
	ParamTypeChanged         ChangeKind = "param_type_changed"
	RequiredChanged          ChangeKind = "required_changed"
	EnumChanged              ChangeKind = "enum_changed"
	DefaultChanged           ChangeKind = "default_changed"
	NestedDescriptionChanged ChangeKind = "nested_description_changed"
	SchemaChanged            ChangeKind = "schema_changed" // another schema keyword (pattern, maxLength, ...)
	AnnotationsChanged       ChangeKind = "annotations_changed"
	OutputSchemaChanged      ChangeKind = "output_schema_changed"
	InstructionsChanged      ChangeKind = "instructions_changed"
	PromptAdded              ChangeKind = "prompt_added"
	PromptRemoved            ChangeKind = "prompt_removed"
	PromptArgsChanged        ChangeKind = "prompt_args_changed"
	ResourceTemplateAdded    ChangeKind = "resource_template_added"
	ResourceTemplateRemoved  ChangeKind = "resource_template_removed"
	// DefinitionChanged is any other field (_meta, icons, ...).
	DefinitionChanged ChangeKind = "definition_changed"
)

// Change is one difference between a pinned and a current definition.
type Change struct {
	Server     string     `json:"server"` // lock key
	ServerName string     `json:"server_name,omitempty"`
	Item       ItemKind   `json:"item"`
	Name       string     `json:"name,omitempty"` // tool or prompt name, or uriTemplate
	Kind       ChangeKind `json:"kind"`
	// Path is where in the definition the change is, as a dotted path:
	// "description", "inputSchema.properties.path.type".
	Path string `json:"path,omitempty"`
	// Param is the parameter concerned, for parameter changes ("path",
	// "options.depth").
	Param string `json:"param,omitempty"`
	// Old and New are compact renderings of the values (truncated).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Diff is a word diff of a text change: "read [-a file-]{+the key+}".
	Diff string `json:"diff,omitempty"`
}

// String renders a change on one line for terminals and findings.
func (c Change) String() string {
	var b strings.Builder
	who := c.ServerName
	if who == "" {
		who = c.Server
	}
	b.WriteString(who)
	if c.Name != "" {
		b.WriteString(" " + string(c.Item) + " " + c.Name)
	}
	b.WriteString(": " + strings.ReplaceAll(string(c.Kind), "_", " "))
	if c.Param != "" {
		b.WriteString(" (" + c.Param + ")")
	} else if c.Path != "" && c.Diff == "" && c.Kind != TitleChanged {
		b.WriteString(" (" + c.Path + ")")
	}
	switch {
	case c.Diff != "":
		b.WriteString(": " + c.Diff)
	case c.Old != "" || c.New != "":
		b.WriteString(": " + orNone(c.Old) + " → " + orNone(c.New))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Compare explains how cur differs from the pinned old, in a stable
// order: identity, instructions, tools, prompts, resource templates, each
// by name. Equal hashes mean no change.
func Compare(old, cur *ServerLock) []Change {
	d := differ{server: cur.Key, name: cur.Name}
	if old == nil {
		d.add(Change{Item: KindServer, Kind: ServerAdded, New: cur.Identity})
		return d.out
	}
	if d.server == "" {
		d.server = old.Key
	}
	if old.Identity != cur.Identity {
		d.add(Change{Item: KindServer, Kind: IdentityChanged, Old: old.Identity, New: cur.Identity})
	}
	d.instructions(old.Instructions, cur.Instructions)
	d.group(KindTool, old.Tools, cur.Tools, ToolAdded, ToolRemoved, d.tool)
	d.group(KindPrompt, old.Prompts, cur.Prompts, PromptAdded, PromptRemoved, d.prompt)
	d.group(KindResourceTemplate, old.ResourceTemplates, cur.ResourceTemplates, ResourceTemplateAdded, ResourceTemplateRemoved, d.template)
	return d.out
}

// CompareLocks compares whole lockfiles, adding ServerRemoved for servers
// only in old.
func CompareLocks(old, cur *Lock) []Change {
	var out []Change
	keys := unionKeys(old.Servers, cur.Servers)
	for _, k := range keys {
		o, c := old.Servers[k], cur.Servers[k]
		switch {
		case c == nil:
			out = append(out, Change{Server: k, ServerName: o.Name, Item: KindServer, Kind: ServerRemoved, Old: o.Identity})
		default:
			out = append(out, Compare(o, c)...)
		}
	}
	return out
}

type differ struct {
	server, name string
	item         ItemKind
	itemName     string
	out          []Change
}

func (d *differ) add(c Change) {
	c.Server, c.ServerName = d.server, d.name
	if c.Item == "" {
		c.Item, c.Name = d.item, d.itemName
	}
	d.out = append(d.out, c)
}

func (d *differ) instructions(old, cur *Entry) {
	var o, c string
	if old != nil {
		_ = json.Unmarshal(old.Definition, &o)
	}
	if cur != nil {
		_ = json.Unmarshal(cur.Definition, &c)
	}
	if o == c {
		return
	}
	d.add(Change{Item: KindInstructions, Kind: InstructionsChanged, Path: "instructions", Old: clip(o), New: clip(c), Diff: WordDiff(o, c)})
}

func (d *differ) group(kind ItemKind, old, cur map[string]Entry, added, removed ChangeKind, each func(o, c map[string]any)) {
	for _, name := range unionKeys(old, cur) {
		o, inOld := old[name]
		c, inCur := cur[name]
		d.item, d.itemName = kind, name
		switch {
		case !inOld:
			d.add(Change{Kind: added, New: summary(c.Definition)})
		case !inCur:
			d.add(Change{Kind: removed, Old: summary(o.Definition)})
		case o.SHA256 != c.SHA256:
			before := len(d.out)
			each(decode(o.Definition), decode(c.Definition))
			if len(d.out) == before { // cannot happen: every key is compared
				d.add(Change{Kind: DefinitionChanged})
			}
		}
	}
	d.item, d.itemName = "", ""
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func decode(raw json.RawMessage) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// tool compares two tool definitions field by field.
func (d *differ) tool(o, c map[string]any) {
	for _, k := range unionKeys(o, c) {
		ov, cv := o[k], c[k]
		if equal(ov, cv) {
			continue
		}
		switch k {
		case "description":
			d.text(DescriptionChanged, k, ov, cv)
		case "title":
			d.add(Change{Kind: TitleChanged, Path: k, Old: render(ov), New: render(cv)})
		case "inputSchema":
			d.schema(k, "", ov, cv)
		case "outputSchema":
			d.add(Change{Kind: OutputSchemaChanged, Path: k + firstDiff(ov, cv), Old: render(ov), New: render(cv)})
		case "annotations":
			om, _ := ov.(map[string]any)
			cm, _ := cv.(map[string]any)
			if om == nil || cm == nil {
				d.add(Change{Kind: AnnotationsChanged, Path: k, Old: render(ov), New: render(cv)})
				continue
			}
			for _, ak := range unionKeys(om, cm) {
				if !equal(om[ak], cm[ak]) {
					d.add(Change{Kind: AnnotationsChanged, Path: k + "." + ak, Old: render(om[ak]), New: render(cm[ak])})
				}
			}
		default:
			d.add(Change{Kind: DefinitionChanged, Path: k, Old: render(ov), New: render(cv)})
		}
	}
}

// schema compares two JSON Schemas at path; param names the property the
// schema describes ("" for the root).
func (d *differ) schema(path, param string, ov, cv any) {
	o, ook := ov.(map[string]any)
	c, cok := cv.(map[string]any)
	if !ook || !cok {
		d.add(Change{Kind: SchemaChanged, Path: path, Param: param, Old: render(ov), New: render(cv)})
		return
	}
	sub := func(p string) string {
		if param == "" {
			return p
		}
		return param + "." + p
	}
	for _, k := range unionKeys(o, c) {
		ow, ck := o[k], c[k]
		if equal(ow, ck) {
			continue
		}
		p := path + "." + k
		switch k {
		case "properties":
			op, _ := ow.(map[string]any)
			cp, _ := ck.(map[string]any)
			for _, name := range unionKeys(op, cp) {
				pv, inO := op[name]
				nv, inC := cp[name]
				switch {
				case !inO:
					d.add(Change{Kind: ParamAdded, Path: p + "." + name, Param: sub(name), New: render(nv)})
				case !inC:
					d.add(Change{Kind: ParamRemoved, Path: p + "." + name, Param: sub(name), Old: render(pv)})
				case !equal(pv, nv):
					d.schema(p+"."+name, sub(name), pv, nv)
				}
			}
		case "required":
			was, now := stringSet(ow), stringSet(ck)
			var notes []string
			for _, n := range now {
				if !slices.Contains(was, n) {
					notes = append(notes, sub(n)+" now required")
				}
			}
			for _, n := range was {
				if !slices.Contains(now, n) {
					notes = append(notes, sub(n)+" no longer required")
				}
			}
			d.add(Change{Kind: RequiredChanged, Path: p, Param: param, Old: render(ow), New: render(ck), Diff: strings.Join(notes, ", ")})
		case "type":
			d.add(Change{Kind: ParamTypeChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
		case "enum", "const":
			d.add(Change{Kind: EnumChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
		case "default":
			d.add(Change{Kind: DefaultChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
		case "description", "title":
			os, _ := ow.(string)
			cs, _ := ck.(string)
			d.add(Change{Kind: NestedDescriptionChanged, Path: p, Param: param, Old: clip(os), New: clip(cs), Diff: WordDiff(os, cs)})
		case "items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else":
			d.schema(p, param, ow, ck)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			oa, _ := ow.([]any)
			ca, _ := ck.([]any)
			if len(oa) != len(ca) || oa == nil {
				d.add(Change{Kind: SchemaChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
				continue
			}
			for i := range oa {
				if !equal(oa[i], ca[i]) {
					d.schema(fmt.Sprintf("%s[%d]", p, i), param, oa[i], ca[i])
				}
			}
		case "$defs", "definitions", "patternProperties", "dependentSchemas":
			om, _ := ow.(map[string]any)
			cm, _ := ck.(map[string]any)
			if om == nil || cm == nil {
				d.add(Change{Kind: SchemaChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
				continue
			}
			for _, name := range unionKeys(om, cm) {
				if !equal(om[name], cm[name]) {
					d.schema(p+"."+name, param, om[name], cm[name])
				}
			}
		default:
			d.add(Change{Kind: SchemaChanged, Path: p, Param: param, Old: render(ow), New: render(ck)})
		}
	}
}

func (d *differ) text(kind ChangeKind, path string, ov, cv any) {
	os, _ := ov.(string)
	cs, _ := cv.(string)
	d.add(Change{Kind: kind, Path: path, Old: clip(os), New: clip(cs), Diff: WordDiff(os, cs)})
}

func (d *differ) prompt(o, c map[string]any) {
	for _, k := range unionKeys(o, c) {
		ov, cv := o[k], c[k]
		if equal(ov, cv) {
			continue
		}
		switch k {
		case "description":
			d.text(DescriptionChanged, k, ov, cv)
		case "title":
			d.add(Change{Kind: TitleChanged, Path: k, Old: render(ov), New: render(cv)})
		case "arguments":
			d.promptArgs(ov, cv)
		default:
			d.add(Change{Kind: DefinitionChanged, Path: k, Old: render(ov), New: render(cv)})
		}
	}
}

func (d *differ) promptArgs(ov, cv any) {
	byName := func(v any) map[string]any {
		m := map[string]any{}
		arr, _ := v.([]any)
		for _, a := range arr {
			if am, ok := a.(map[string]any); ok {
				if n, ok := am["name"].(string); ok {
					m[n] = am
				}
			}
		}
		return m
	}
	om, cm := byName(ov), byName(cv)
	for _, n := range unionKeys(om, cm) {
		o, inO := om[n]
		c, inC := cm[n]
		switch {
		case !inO:
			d.add(Change{Kind: PromptArgsChanged, Path: "arguments", Param: n, Diff: "argument added", New: render(c)})
		case !inC:
			d.add(Change{Kind: PromptArgsChanged, Path: "arguments", Param: n, Diff: "argument removed", Old: render(o)})
		case !equal(o, c):
			oa, ca := o.(map[string]any), c.(map[string]any)
			for _, k := range unionKeys(oa, ca) {
				if equal(oa[k], ca[k]) {
					continue
				}
				ch := Change{Kind: PromptArgsChanged, Path: "arguments." + n + "." + k, Param: n, Old: render(oa[k]), New: render(ca[k])}
				if k == "description" {
					os, _ := oa[k].(string)
					cs, _ := ca[k].(string)
					ch.Diff = WordDiff(os, cs)
				}
				d.add(ch)
			}
		}
	}
	if len(om) == 0 && len(cm) == 0 { // not a list of named arguments
		d.add(Change{Kind: PromptArgsChanged, Path: "arguments", Old: render(ov), New: render(cv)})
	}
}

func (d *differ) template(o, c map[string]any) {
	for _, k := range unionKeys(o, c) {
		ov, cv := o[k], c[k]
		if equal(ov, cv) {
			continue
		}
		switch k {
		case "description":
			d.text(DescriptionChanged, k, ov, cv)
		case "title":
			d.add(Change{Kind: TitleChanged, Path: k, Old: render(ov), New: render(cv)})
		case "annotations":
			d.add(Change{Kind: AnnotationsChanged, Path: k, Old: render(ov), New: render(cv)})
		default:
			d.add(Change{Kind: DefinitionChanged, Path: k, Old: render(ov), New: render(cv)})
		}
	}
}

func equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func stringSet(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// firstDiff returns the path suffix of the first difference between two
// values, for locating an outputSchema change.
func firstDiff(a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return ""
	}
	for _, k := range unionKeys(am, bm) {
		if !equal(am[k], bm[k]) {
			return "." + k + firstDiff(am[k], bm[k])
		}
	}
	return ""
}

const clipLen = 160

// render is a compact JSON rendering of a value, truncated.
func render(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return clip(s)
	}
	b, _ := json.Marshal(v)
	return clip(string(b))
}

func clip(s string) string {
	r := []rune(s)
	if len(r) <= clipLen {
		return s
	}
	return string(r[:clipLen-1]) + "…"
}

func summary(raw json.RawMessage) string {
	m := decode(raw)
	if s, ok := m["description"].(string); ok {
		return clip(s)
	}
	return ""
}
