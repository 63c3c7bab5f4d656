package argcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Bounds on input schemas. A server controls its schemas, so a hostile
// one must not make validation expensive: schemas beyond these bounds are
// refused (and calls of the tool denied, or not validated, per
// policy.arguments.invalid_schema).
const (
	// MaxSchemaBytes bounds an inputSchema's JSON.
	MaxSchemaBytes = 256 << 10
	// MaxSchemaNodes bounds the JSON values in an inputSchema.
	MaxSchemaNodes = 20000
	// MaxDepth bounds the nesting of schemas and of the arguments
	// validated against a recursive schema.
	MaxDepth = 64
	// MaxCost bounds the schema evaluations one argument value can cause
	// along one path of nested values (see [cost]).
	MaxCost = 20000
)

// schemaURL names the schema being compiled; relative references resolve
// against it and are refused by the loader.
const schemaURL = "https://mcpwarden.invalid/input-schema.json"

// refuseLoader is the compiler's URL loader: it loads nothing. Every
// $ref must point inside the tool's own schema (or at a JSON Schema
// metaschema, which the library embeds); a file:// or http(s):// reference
// fails the compilation instead of reading the disk or the network.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("references outside the tool's inputSchema are not loaded (%s)", url)
}

// compiled is an input schema ready to validate, or the reason it cannot.
type compiled struct {
	schema *jsonschema.Schema
	err    error // why the schema cannot be used; schema is nil
}

// schemas compiles each distinct schema once, keyed by the SHA-256 of its
// bytes. It is safe for concurrent use.
type schemas struct {
	mu sync.Mutex
	m  map[[32]byte]*compiled
}

// maxCached bounds the cache; a server that lists ever-new schemas only
// makes the gateway recompile.
const maxCached = 4096

func (s *schemas) get(raw []byte) *compiled {
	key := sha256.Sum256(raw)
	s.mu.Lock()
	c, ok := s.m[key]
	s.mu.Unlock()
	if ok {
		return c
	}
	c = compile(raw)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxCached {
		s.m = make(map[[32]byte]*compiled)
	}
	s.m[key] = c
	s.mu.Unlock()
	return c
}

// compile checks the bounds, compiles with no loader and analyses the
// cost of validation.
func compile(raw []byte) *compiled {
	if len(raw) > MaxSchemaBytes {
		return &compiled{err: fmt.Errorf("the schema is %d bytes, more than the %d mcpwarden validates", len(raw), MaxSchemaBytes)}
	}
	if err := checkShape(raw); err != nil {
		return &compiled{err: err}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &compiled{err: fmt.Errorf("the schema is not JSON: %w", err)}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return &compiled{err: fmt.Errorf("the schema cannot be used: %w", err)}
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return &compiled{err: fmt.Errorf("the schema does not compile: %s", firstLine(err.Error()))}
	}
	if n, err := cost(sch); err != nil {
		return &compiled{err: err}
	} else if n > MaxCost {
		return &compiled{err: fmt.Errorf("the schema is too complex to validate in bounded time (up to %d evaluations per value, limit %d): its composition keywords nest or recurse too much", n, MaxCost)}
	}
	return &compiled{schema: sch}
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "jsonschema: ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// checkShape bounds the depth and the number of values of a schema
// before it is decoded.
func checkShape(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth, nodes := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the schema is not JSON: %w", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > MaxDepth {
				return fmt.Errorf("the schema nests deeper than %d levels", MaxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		nodes++
		if nodes > MaxSchemaNodes {
			return fmt.Errorf("the schema holds more than %d values", MaxSchemaNodes)
		}
	}
}

// cost is the worst-case number of schema evaluations along one path of
// nested argument values, up to [MaxDepth] levels: every in-place
// applicator (allOf, anyOf, oneOf, not, if/then/else, $ref,
// dependentSchemas ...) evaluates its subschemas on the same value, and
// every child applicator (properties, items, contains ...) evaluates
// them one level down. Validation of a whole argument object costs at
// most its number of values times this. A schema whose composition
// fans out under recursion ({"items": {"anyOf": [{"$ref": "#"}, {"$ref":
// "#"}]}}) costs 2^depth and is refused; a recursive tree schema costs
// a few evaluations per level. An in-place cycle ($ref to itself without
// descending) is refused outright.
func cost(root *jsonschema.Schema) (int, error) {
	a := &analysis{memo: map[memoKey]int{}, onStack: map[memoKey]bool{}, dyn: map[string][]*jsonschema.Schema{}}
	a.collect(root, map[*jsonschema.Schema]bool{})
	n := a.eval(root, MaxDepth)
	return n, a.err
}

type memoKey struct {
	s *jsonschema.Schema
	d int
}

type analysis struct {
	memo    map[memoKey]int
	onStack map[memoKey]bool
	dyn     map[string][]*jsonschema.Schema // $dynamicAnchor name → schemas
	err     error
}

// collect indexes the dynamic anchors: a $dynamicRef may resolve to any
// schema with the same $dynamicAnchor at run time.
func (a *analysis) collect(s *jsonschema.Schema, seen map[*jsonschema.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.DynamicAnchor != "" {
		a.dyn[s.DynamicAnchor] = append(a.dyn[s.DynamicAnchor], s)
	}
	inPlace, child := edges(s, a)
	for _, c := range inPlace {
		a.collect(c, seen)
	}
	for _, c := range child {
		a.collect(c, seen)
	}
}

func sat(a, b int) int {
	if a+b > MaxCost+1 {
		return MaxCost + 1
	}
	return a + b
}

func (a *analysis) eval(s *jsonschema.Schema, d int) int {
	if s == nil || a.err != nil {
		return 0
	}
	k := memoKey{s, d}
	if v, ok := a.memo[k]; ok {
		return v
	}
	if a.onStack[k] {
		a.err = errors.New("the schema refers to itself without descending into the value (an infinite $ref loop)")
		return MaxCost + 1
	}
	a.onStack[k] = true
	n := 1
	inPlace, child := edges(s, a)
	for _, c := range inPlace {
		n = sat(n, a.eval(c, d))
	}
	if d > 0 {
		for _, c := range child {
			n = sat(n, a.eval(c, d-1))
		}
	}
	delete(a.onStack, k)
	a.memo[k] = n
	return n
}

// edges lists a schema's subschemas that apply to the same value
// (in place) and to its children.
func edges(s *jsonschema.Schema, a *analysis) (inPlace, child []*jsonschema.Schema) {
	add := func(dst *[]*jsonschema.Schema, ss ...*jsonschema.Schema) {
		for _, x := range ss {
			if x != nil {
				*dst = append(*dst, x)
			}
		}
	}
	add(&inPlace, s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else)
	add(&inPlace, s.AllOf...)
	add(&inPlace, s.AnyOf...)
	add(&inPlace, s.OneOf...)
	if s.DynamicRef != nil {
		add(&inPlace, s.DynamicRef.Ref)
		if s.DynamicRef.Anchor != "" {
			add(&inPlace, a.dyn[s.DynamicRef.Anchor]...)
		}
	}
	for _, x := range s.DependentSchemas {
		add(&inPlace, x)
	}
	for _, x := range s.Dependencies {
		if sc, ok := x.(*jsonschema.Schema); ok {
			add(&inPlace, sc)
		}
	}
	add(&child, s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema)
	for _, x := range s.Properties {
		add(&child, x)
	}
	for _, x := range s.PatternProperties {
		add(&child, x)
	}
	add(&child, s.PrefixItems...)
	if sc, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		add(&child, sc)
	}
	if sc, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
		add(&child, sc)
	}
	switch it := s.Items.(type) {
	case *jsonschema.Schema:
		add(&child, it)
	case []*jsonschema.Schema:
		add(&child, it...)
	}
	return inPlace, child
}

var printer = message.NewPrinter(language.English)

// describe turns a validation error into one line per failing value, at
// most three, naming each value by its path in the arguments.
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(leaves) >= 3 {
			return
		}
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	parts := make([]string, 0, len(leaves))
	for _, l := range leaves {
		where := "the arguments"
		if len(l.InstanceLocation) > 0 {
			where = "argument " + strings.Join(l.InstanceLocation, ".")
		}
		parts = append(parts, where+": "+l.ErrorKind.LocalizedString(printer))
	}
	return strings.Join(parts, "; ")
}

// depthOf reports whether a decoded JSON value nests deeper than max.
func deeperThan(v any, max int) bool {
	if max < 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			if deeperThan(c, max-1) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if deeperThan(c, max-1) {
				return true
			}
		}
	}
	return false
}
