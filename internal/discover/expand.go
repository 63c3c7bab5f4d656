package discover

import (
	"path/filepath"
	"strings"
)

// style is a client's placeholder convention.
type style uint8

const (
	// styleNone (the zero value): the client passes values through
	// literally (Claude Desktop, Cline, Zed, Codex, Goose).
	_ style = iota
	// styleClaudeCode: ${VAR} and ${VAR:-default}.
	styleClaudeCode
	// styleVSCode: ${env:VAR}, ${input:ID}, ${workspaceFolder},
	// ${workspaceFolderBasename}, ${userHome}, ${pathSeparator}, ${/}
	// (VS Code, Cursor, Windsurf, Roo).
	styleVSCode
	// styleGemini: $VAR and ${VAR}.
	styleGemini
	// styleOpenCode: {env:VAR} and {file:PATH}.
	styleOpenCode
	// styleContinue: ${{ secrets.NAME }} and ${{ inputs.NAME }}.
	styleContinue
	// styleUnknown: a file of unknown origin. Nothing is substituted, since
	// the convention is unknown, but anything that looks like a
	// placeholder is reported as unresolved.
	styleUnknown
)

// expander substitutes one client's placeholders. It never invents a
// value: what it cannot resolve stays in the string as written and is
// reported.
type expander struct {
	style     style
	lookup    func(string) (string, bool)
	home      string
	workspace string // the project directory of a project config, "" for user configs
	sep       string
}

// expand returns s with placeholders resolved, and the placeholders that
// could not be resolved, as written.
func (x *expander) expand(s string) (string, []string) {
	if x == nil || !strings.ContainsAny(s, "${") {
		return s, nil
	}
	switch x.style {
	case styleClaudeCode:
		return x.dollar(s, false, x.claudeVar)
	case styleVSCode:
		return x.dollar(s, false, x.vscodeVar)
	case styleGemini:
		return x.dollar(s, true, x.envVar)
	case styleOpenCode:
		return x.opencode(s)
	case styleContinue:
		return x.dollar(s, false, func(string) (string, bool) { return "", false })
	case styleUnknown:
		_, un := x.dollar(s, false, func(string) (string, bool) { return "", false })
		_, un2 := x.opencode(s)
		return s, append(un, un2...)
	}
	return s, nil
}

// dollar scans for ${...} (and $NAME when bare is set) and resolves each
// body with resolve. ${{ ... }} bodies (Continue templates) are matched to
// their closing }}.
func (x *expander) dollar(s string, bare bool, resolve func(body string) (string, bool)) (string, []string) {
	var b strings.Builder
	var unresolved []string
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		var tok, body string
		switch {
		case strings.HasPrefix(s[i+1:], "{{"):
			end := strings.Index(s[i+3:], "}}")
			if end < 0 {
				b.WriteByte(s[i])
				i++
				continue
			}
			tok = s[i : i+3+end+2]
			body = "{" + strings.TrimSpace(s[i+3:i+3+end]) + "}"
		case s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteByte(s[i])
				i++
				continue
			}
			tok = s[i : i+2+end+1]
			body = s[i+2 : i+2+end]
		case bare && isNameStart(s[i+1]):
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			tok = s[i:j]
			body = s[i+1 : j]
		default:
			b.WriteByte(s[i])
			i++
			continue
		}
		if v, ok := resolve(body); ok {
			b.WriteString(v)
		} else {
			b.WriteString(tok)
			unresolved = append(unresolved, tok)
		}
		i += len(tok)
	}
	return b.String(), unresolved
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isNameByte(c byte) bool  { return isNameStart(c) || (c >= '0' && c <= '9') }

func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func (x *expander) envVar(name string) (string, bool) {
	if !validName(name) || x.lookup == nil {
		return "", false
	}
	return x.lookup(name)
}

// claudeVar resolves VAR or VAR:-default, as Claude Code does in .mcp.json.
func (x *expander) claudeVar(body string) (string, bool) {
	name, def, hasDef := strings.Cut(body, ":-")
	if v, ok := x.envVar(name); ok {
		return v, true
	}
	if hasDef && validName(name) {
		return def, true
	}
	return "", false
}

func (x *expander) vscodeVar(body string) (string, bool) {
	if name, ok := strings.CutPrefix(body, "env:"); ok {
		return x.envVar(name)
	}
	switch body {
	case "userHome":
		return x.home, x.home != ""
	case "workspaceFolder":
		return x.workspace, x.workspace != ""
	case "workspaceFolderBasename":
		return filepath.Base(x.workspace), x.workspace != ""
	case "pathSeparator", "/":
		return x.sep, true
	}
	// ${input:...}, ${config:...}, ${command:...} and the rest need the
	// editor: unresolvable here.
	return "", false
}

// opencode resolves {env:VAR}; {file:PATH} and unset variables stay.
func (x *expander) opencode(s string) (string, []string) {
	var b strings.Builder
	var unresolved []string
	for i := 0; i < len(s); {
		rest := s[i:]
		// In a file of unknown origin, ${env:X} is a VS Code-style token
		// already reported by the ${...} scan.
		dollar := x.style == styleUnknown && i > 0 && s[i-1] == '$'
		if s[i] != '{' || dollar || !(strings.HasPrefix(rest, "{env:") || strings.HasPrefix(rest, "{file:")) {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			b.WriteString(rest)
			break
		}
		tok := rest[:end+1]
		if name, ok := strings.CutPrefix(tok[1:end], "env:"); ok && x.style == styleOpenCode {
			if v, ok := x.envVar(name); ok {
				b.WriteString(v)
				i += len(tok)
				continue
			}
		}
		b.WriteString(tok)
		unresolved = append(unresolved, tok)
		i += len(tok)
	}
	return b.String(), unresolved
}
