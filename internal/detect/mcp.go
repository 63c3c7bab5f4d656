package detect

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"mcpwarden/internal/mcptext"
	"mcpwarden/internal/normalize"
)

// Limits on the JSON the MCP helpers walk.
var walkLimits = mcptext.Limits{}

// InspectTool inspects an MCP tool definition (a JSON object with name,
// title, description, inputSchema, outputSchema, annotations): every
// string in it, including each nested schema's description, title, enum
// and default values, plus tool-level checks of what the tool claims
// against what its schema asks for. Findings carry the tool name.
//
// An error means the definition could not be read (not JSON, or beyond
// the nesting and size limits); the caller must report the tool as
// unscannable, never as clean.
func (e *Engine) InspectTool(raw []byte) (Verdict, error) {
	fields, err := mcptext.Fields(raw, "", walkLimits)
	if err != nil {
		return Verdict{}, fmt.Errorf("reading tool definition: %w", err)
	}
	var t toolShape
	if err := json.Unmarshal(raw, &t); err != nil {
		return Verdict{}, fmt.Errorf("reading tool definition: %w", err)
	}
	st := &state{kind: Description}
	for _, f := range fields {
		e.scanField(st, Field(f))
	}
	e.detectSchema(st, &t, fields)
	v := e.finish(st)
	for i := range v.Findings {
		v.Findings[i].Tool = t.Name
	}
	return v, nil
}

// InspectPrompt inspects an MCP prompt definition (name, title,
// description, arguments[].description ...).
func (e *Engine) InspectPrompt(raw []byte) (Verdict, error) {
	return e.inspectJSON(raw, Description, "", "prompt definition")
}

// InspectResource inspects an MCP resource or resource-template
// definition (uri or uriTemplate, name, title, description ...).
func (e *Engine) InspectResource(raw []byte) (Verdict, error) {
	return e.inspectJSON(raw, Description, "", "resource definition")
}

// InspectInstructions inspects a server's initialize instructions.
func (e *Engine) InspectInstructions(text string) Verdict {
	return e.Inspect(Description, Field{Path: "instructions", Text: text})
}

// InspectResult inspects what a server returned for the model to read:
// a tools/call result (content[] items, structuredContent, embedded
// resources), a prompts/get result or a resources/read result. Field
// paths are relative to the result object: "content[0].text".
func (e *Engine) InspectResult(raw []byte) (Verdict, error) {
	return e.inspectJSON(raw, Result, "", "result")
}

func (e *Engine) inspectJSON(raw []byte, k Kind, prefix, what string) (Verdict, error) {
	fields, err := mcptext.Fields(raw, prefix, walkLimits)
	if err != nil {
		return Verdict{}, fmt.Errorf("reading %s: %w", what, err)
	}
	st := &state{kind: k}
	for _, f := range fields {
		e.scanField(st, Field(f))
	}
	return e.finish(st), nil
}

// toolShape is the part of a tool definition the schema checks read.
type toolShape struct {
	Name        string          `json:"name"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
}

type param struct {
	name, path, description string
}

// params lists the top-level and nested properties of a schema.
func params(schema json.RawMessage, base string, depth int, out *[]param) {
	if len(schema) == 0 || depth > 8 {
		return
	}
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Items      json.RawMessage            `json:"items"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var d struct {
			Description string `json:"description"`
		}
		_ = json.Unmarshal(s.Properties[n], &d)
		p := base + ".properties." + n
		*out = append(*out, param{name: n, path: p, description: d.Description})
		params(s.Properties[n], p, depth+1, out)
	}
	params(s.Items, base+".items", depth+1, out)
}

// sideChannelNames are parameter names that carry free text a tool has no
// visible use for, the classic hiding place for exfiltrated data.
var sideChannelNames = regexp.MustCompile(`^(?:side_?notes?|notes?|context|extra(?:_?(?:info|data|context))?|metadata|meta|comments?|feedback|debug(?:_?info)?|annotations?|remarks?|memo|reasoning|thoughts?|trace|telemetry|analytics|hidden|internal|additional_?(?:info|context|notes|data)|details|summary|payload|session_?data|conversation|history|chat_?history|user_?context)$`)

// sensitiveParamNames are parameters that ask the model for secrets or
// for material it should never hand to a tool unprompted.
var sensitiveParamNames = regexp.MustCompile(`(?:^|_)(?:password|passwd|passphrase|secret|token|api_?key|apikey|private_?key|ssh_?key|credentials?|cookies?|session_?(?:id|token)|mnemonic|seed_?phrase|otp|system_?prompt|chat_?history|conversation_?history|env(?:ironment)?_?vars?)(?:$|_)`)

// authWords in a tool's own name or description explain why it would
// legitimately ask for a credential.
var authWords = regexp.MustCompile(`auth|log ?in|sign ?(?:in|up)|credential|token|key|password|passphrase|secret|account|oauth|session|connect|vault|encrypt|decrypt|cookie|wallet|2fa|otp|ssh|config|environment|\benv\b|login|register|user|api|jwt|certificate|database|smtp|email|deploy`)

// fillVerb finds an instruction to put something into a named parameter.
const fillVerb = `(?:pass|put|include|add|append|insert|place|store|send|provide|fill|set|write|attach|embed|copy|paste|supply|concatenate|concantate|save|record|report|log)\b[^.\n]{0,120}?\b(?:as|in|into|to|inside|within|via|through|using|under)\s+(?:the\s+|its\s+|a\s+)?['"\x60]?`

// detectSchema runs the tool-level checks.
func (e *Engine) detectSchema(st *state, t *toolShape, fields []mcptext.Field) {
	var ps []param
	params(t.InputSchema, "inputSchema", 0, &ps)
	if len(ps) == 0 {
		return
	}
	own := strings.ToLower(t.Name + " " + t.Title + " " + t.Description)
	for _, p := range ps {
		lname := strings.ToLower(p.name)
		if rules := e.byDet["schema.side_channel"]; len(rules) > 0 && sideChannelNames.MatchString(lname) {
			re := regexp.MustCompile(fillVerb + regexp.QuoteMeta(lname) + `\b`)
			for _, f := range fields {
				if f.Path == p.path+".description" {
					continue // a parameter describing itself is normal
				}
				x := normalize.Normalize(f.Text, e.norm)
				if m := re.FindStringIndex(x.Norm); m != nil {
					sp := x.OrigSpan(m[0], m[1])
					for _, r := range rules {
						st.add(r, f.Path, sp, e.redact(clip(f.Text[sp.Start:sp.End])), "instructs the model to fill parameter "+p.name, 1)
					}
					break
				}
			}
		}
		if rules := e.byDet["schema.sensitive_param"]; len(rules) > 0 && sensitiveParamNames.MatchString(lname) && !authWords.MatchString(strings.ReplaceAll(own, "_", " ")) {
			for _, r := range rules {
				st.add(r, p.path, normalize.Span{}, p.name, "a tool that does not mention authentication asks for "+p.name, 1)
			}
		}
	}
	if rules := e.byDet["schema.purpose_mismatch"]; len(rules) > 0 && trivialPurpose.MatchString(strings.ReplaceAll(strings.ToLower(t.Name), "_", " ")) {
		for _, s := range st.signals {
			if hasPrefix(s.r.id, []string{"sensitive.", "exfil.", "cmd."}) {
				for _, r := range rules {
					st.add(r, s.field, s.span, s.quote, "a tool named "+t.Name+" should need none of this: "+s.r.id, 1)
				}
				break
			}
		}
	}
}

// trivialPurpose matches tool names whose job needs no files, network or
// credentials: arithmetic, weather, time, jokes, facts, greetings.
var trivialPurpose = regexp.MustCompile(`\b(?:add|sum|subtract|multiply|divide|calculat\w*|math|compute|weather|forecast|time|date|clock|joke|fact|quote|greet\w*|hello|echo|random|dice|coin|convert|translate|spell|count|reverse|uppercase|lowercase)\b`)
