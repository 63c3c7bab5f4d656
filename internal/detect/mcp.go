package detect

import (
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
	doc, err := mcptext.Decode(raw)
	if err != nil {
		return Verdict{}, fmt.Errorf("reading tool definition: %w", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return Verdict{}, fmt.Errorf("reading tool definition: want a JSON object, got %T", doc)
	}
	fields, err := mcptext.FieldsOf(obj, "", walkLimits)
	if err != nil {
		return Verdict{}, fmt.Errorf("reading tool definition: %w", err)
	}
	t := toolShape{InputSchema: obj["inputSchema"]}
	t.Name, _ = obj["name"].(string)
	t.Title, _ = obj["title"].(string)
	t.Description, _ = obj["description"].(string)
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
	doc, err := mcptext.Decode(raw)
	if err != nil {
		return Verdict{}, fmt.Errorf("reading %s: %w", what, err)
	}
	fields, err := mcptext.FieldsOf(doc, prefix, walkLimits)
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
	Name, Title, Description string
	InputSchema              any
}

type param struct {
	name, path, description string
}

// params lists the top-level and nested properties of a schema.
func params(schema any, base string, depth int, out *[]param) {
	m, ok := schema.(map[string]any)
	if !ok || depth > 8 {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := base + ".properties." + n
			d := ""
			if pm, ok := props[n].(map[string]any); ok {
				d, _ = pm["description"].(string)
			}
			*out = append(*out, param{name: n, path: p, description: d})
			params(props[n], p, depth+1, out)
		}
	}
	params(m["items"], base+".items", depth+1, out)
}

// sideChannelNames are parameter names (lower-case, without '_' and
// '-') that carry free text a tool has no visible use for, the classic
// hiding place for exfiltrated data.
var sideChannelNames = map[string]bool{
	"sidenote": true, "sidenotes": true, "note": true, "notes": true, "context": true, "extra": true, "extrainfo": true,
	"extradata": true, "extracontext": true, "metadata": true, "meta": true, "comment": true, "comments": true,
	"feedback": true, "debug": true, "debuginfo": true, "annotation": true, "annotations": true, "remark": true,
	"remarks": true, "memo": true, "reasoning": true, "thought": true, "thoughts": true, "trace": true,
	"telemetry": true, "analytics": true, "hidden": true, "internal": true, "additionalinfo": true,
	"additionalcontext": true, "additionalnotes": true, "additionaldata": true, "details": true, "summary": true,
	"payload": true, "sessiondata": true, "conversation": true, "history": true, "chathistory": true, "usercontext": true,
}

// sensitiveParamParts mark parameters that ask the model for secrets or
// for material it should never hand to a tool unprompted.
var sensitiveParamParts = []string{"password", "passwd", "passphrase", "secret", "privatekey", "sshkey", "credential",
	"cookie", "mnemonic", "seedphrase", "chathistory", "conversationhistory"}

// squash lower-cases a parameter name and drops separators, so that
// side_note, sideNote and side-note compare equal.
func squash(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func sensitiveParam(squashed string) bool {
	for _, p := range sensitiveParamParts {
		if strings.Contains(squashed, p) {
			return true
		}
	}
	return false
}

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
		sq := squash(p.name)
		if rules := e.byDet["schema.side_channel"]; len(rules) > 0 && sideChannelNames[sq] {
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
		if rules := e.byDet["schema.sensitive_param"]; len(rules) > 0 && sensitiveParam(sq) && !authWords.MatchString(strings.ReplaceAll(own, "_", " ")) {
			for _, r := range rules {
				st.add(r, p.path, noSpan, p.name, "a tool that does not mention authentication asks for "+p.name, 1)
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
