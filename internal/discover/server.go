package discover

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Transport is how a client talks to a server.
type Transport string

const (
	Stdio Transport = "stdio"
	HTTP  Transport = "http" // Streamable HTTP
	SSE   Transport = "sse"  // the legacy HTTP+SSE transport
	// None marks a declaration the client runs by itself (a Zed extension,
	// a Goose builtin): there is no command or URL in the config.
	None Transport = ""
)

// Scope says which configuration layer a declaration comes from.
type Scope string

const (
	ScopeUser    Scope = "user"    // the user's global configuration
	ScopeProject Scope = "project" // a file in the project (working) directory
	ScopeLocal   Scope = "local"   // per-project entries kept in a user file (Claude Code)
	ScopeManaged Scope = "managed" // system-wide, administrator-managed
	ScopeFile    Scope = "file"    // a file named explicitly to [Load]
)

// Server is one MCP server declaration in a client configuration.
type Server struct {
	Client     string `json:"client"` // e.g. "claude-desktop", see [Clients]
	ConfigPath string `json:"config_path"`
	// Line is the 1-based line of the server's entry (its key, or the list
	// item) in ConfigPath.
	Line  int   `json:"line"`
	Scope Scope `json:"scope"`
	// Project is the project directory the declaration applies to, for
	// project files and Claude Code's per-project entries.
	Project string `json:"project,omitempty"`

	Name      string            `json:"name"`
	Transport Transport         `json:"transport"`
	Command   string            `json:"command,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// EnvFile is a dotenv file the client loads into the environment
	// (VS Code, Cursor); it is named, not read.
	EnvFile  string            `json:"env_file,omitempty"`
	Cwd      string            `json:"cwd,omitempty"`
	URL      string            `json:"url,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Disabled bool              `json:"disabled,omitempty"`
	// Unresolved lists the placeholders that could not be resolved, as
	// written (`${input:token}`, `${env:MISSING}`, `{file:key.txt}`), and
	// for fields that name an environment variable, `$NAME`. The values
	// above keep such placeholders verbatim: nothing is invented.
	Unresolved []string `json:"unresolved,omitempty"`
	// Note explains a declaration that cannot be launched from the config
	// alone (Transport None).
	Note string `json:"note,omitempty"`

	// Raw holds the values exactly as written in the file, before
	// placeholder expansion. Values the client takes from the environment
	// (Codex bearer_token_env_var, Goose env_keys) are absent from it, so
	// Raw is what the file itself discloses.
	Raw Raw `json:"raw"`
	// Lines maps fields to the 1-based line where each is written:
	// "command", "args[0]", "env.API_KEY", "headers.Authorization", "url",
	// "cwd", "type".
	Lines map[string]int `json:"lines,omitempty"`
}

// Raw is a declaration's launch fields as written in the file.
type Raw struct {
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// FieldLine returns the line of a field (a key of [Server.Lines]), or the
// line of the entry when the field's own line is unknown.
func (s *Server) FieldLine(field string) int {
	if l, ok := s.Lines[field]; ok {
		return l
	}
	return s.Line
}

// FileError is a problem with one config file, or with one entry in it.
type FileError struct {
	Path string
	Line int // 1-based, 0 when unknown
	Err  error
}

func (e *FileError) Error() string {
	var se *SyntaxError
	if e.Line == 0 && asSyntax(e.Err, &se) && se.Line > 0 {
		if se.Col > 0 {
			return fmt.Sprintf("%s:%d:%d: %s", e.Path, se.Line, se.Col, se.Msg)
		}
		return fmt.Sprintf("%s:%d: %s", e.Path, se.Line, se.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

func asSyntax(err error, se **SyntaxError) bool {
	s, ok := err.(*SyntaxError)
	if ok {
		*se = s
	}
	return ok
}

// fileCtx carries what every shape decoder needs for one file.
type fileCtx struct {
	client  string
	path    string
	scope   Scope
	project string
	x       *expander
	lookup  func(string) (string, bool)
	errs    []error
}

func (c *fileCtx) errAt(line int, format string, args ...any) {
	c.errs = append(c.errs, &FileError{Path: c.path, Line: line, Err: fmt.Errorf(format, args...)})
}

// entry builds one Server from fields of a config entry, expanding
// placeholders and recording lines. A type error marks the entry bad; the
// caller drops it and the error is reported.
type entry struct {
	c   *fileCtx
	s   Server
	bad bool
}

func (c *fileCtx) newEntry(name string, line int) *entry {
	return &entry{c: c, s: Server{
		Client: c.client, ConfigPath: c.path, Line: line, Scope: c.scope, Project: c.project,
		Name: name, Lines: map[string]int{},
	}}
}

func (e *entry) fail(n *node, format string, args ...any) {
	line := e.s.Line
	if n != nil && n.line > 0 {
		line = n.line
	}
	e.c.errAt(line, "server %q: %s", e.s.Name, fmt.Sprintf(format, args...))
	e.bad = true
}

func (e *entry) expand(s string) string {
	v, un := e.c.x.expand(s)
	for _, u := range un {
		if !slices.Contains(e.s.Unresolved, u) {
			e.s.Unresolved = append(e.s.Unresolved, u)
		}
	}
	return v
}

// unresolvedName records an environment variable the client would read but
// that is not set.
func (e *entry) unresolvedName(name string) {
	if u := "$" + name; !slices.Contains(e.s.Unresolved, u) {
		e.s.Unresolved = append(e.s.Unresolved, u)
	}
}

// text reads a scalar field; numbers and booleans are taken as written.
func (e *entry) text(field string, n *node) (raw string, ok bool) {
	if n == nil || n.kind == kNull {
		return "", false
	}
	v, ok := n.scalar()
	if !ok {
		e.fail(n, "%s", typeError(field, n, "a string"))
		return "", false
	}
	return v, true
}

func (e *entry) setCommand(n *node) {
	if raw, ok := e.text("command", n); ok {
		e.s.Raw.Command = raw
		e.s.Command = e.expand(raw)
		e.s.Lines["command"] = n.line
	}
}

func (e *entry) setCwd(n *node) {
	if raw, ok := e.text("cwd", n); ok {
		e.s.Raw.Cwd = raw
		e.s.Cwd = e.expand(raw)
		e.s.Lines["cwd"] = n.line
	}
}

func (e *entry) setURL(field string, n *node) {
	if raw, ok := e.text(field, n); ok {
		e.s.Raw.URL = raw
		e.s.URL = e.expand(raw)
		e.s.Lines["url"] = n.line
	}
}

func (e *entry) setEnvFile(n *node) {
	if raw, ok := e.text("envFile", n); ok {
		e.s.EnvFile = e.expand(raw)
		e.s.Lines["env_file"] = n.line
	}
}

// setArgs reads an array of strings.
func (e *entry) setArgs(field string, n *node) {
	if n == nil || n.kind == kNull {
		return
	}
	if n.kind != kArray {
		e.fail(n, "%s", typeError(field, n, "an array of strings"))
		return
	}
	for i, it := range n.items {
		v, ok := it.scalar()
		if !ok {
			e.fail(it, "%s", typeError(field+"["+strconv.Itoa(i)+"]", it, "a string"))
			return
		}
		e.addArg(v, it.line)
	}
}

func (e *entry) addArg(raw string, line int) {
	e.s.Lines["args["+strconv.Itoa(len(e.s.Args))+"]"] = line
	e.s.Raw.Args = append(e.s.Raw.Args, raw)
	e.s.Args = append(e.s.Args, e.expand(raw))
}

// setMap reads a string map (env, headers). A null value unsets the key,
// as in VS Code.
func (e *entry) setMap(field, prefix string, n *node, raw, out *map[string]string) {
	if n == nil || n.kind == kNull {
		return
	}
	if n.kind != kObject {
		e.fail(n, "%s", typeError(field, n, "an object of strings"))
		return
	}
	for _, m := range n.entries() {
		if m.value.kind == kNull {
			continue
		}
		v, ok := m.value.scalar()
		if !ok {
			e.fail(m.value, "%s", typeError(field+"."+m.key, m.value, "a string"))
			return
		}
		e.putMap(prefix, m.key, v, m.line, raw, out)
	}
}

func (e *entry) putMap(prefix, key, rawVal string, line int, raw, out *map[string]string) {
	if *out == nil {
		*out = map[string]string{}
	}
	if raw != nil {
		if *raw == nil {
			*raw = map[string]string{}
		}
		(*raw)[key] = rawVal
	}
	(*out)[key] = e.expand(rawVal)
	e.s.Lines[prefix+"."+key] = line
}

func (e *entry) setEnv(field string, n *node) { e.setMap(field, "env", n, &e.s.Raw.Env, &e.s.Env) }
func (e *entry) setHeaders(field string, n *node) {
	e.setMap(field, "headers", n, &e.s.Raw.Headers, &e.s.Headers)
}

// envFromLookup adds a variable whose value the client takes from its own
// environment (Goose env_keys, Codex env_vars). It is not part of Raw.
func (e *entry) envFromLookup(name string, line int) {
	v, ok := e.c.lookup(name)
	if !ok {
		e.unresolvedName(name)
		return
	}
	if e.s.Env == nil {
		e.s.Env = map[string]string{}
	}
	e.s.Env[name] = v
	e.s.Lines["env."+name] = line
}

// transportType maps the spellings clients use for "type" to a Transport.
func transportType(v string) (Transport, bool) {
	switch strings.ToLower(v) {
	case "stdio", "local", "command":
		return Stdio, true
	case "sse":
		return SSE, true
	case "http", "streamable-http", "streamablehttp", "streamable_http", "streamable", "remote":
		return HTTP, true
	}
	return "", false
}

// guessRemote picks SSE or Streamable HTTP for a URL given without a type:
// an endpoint path ending in /sse is the legacy transport by convention.
func guessRemote(u string) Transport {
	if p, err := url.Parse(u); err == nil && strings.HasSuffix(strings.TrimRight(p.Path, "/"), "/sse") {
		return SSE
	}
	return HTTP
}

// setType reads an explicit transport type field.
func (e *entry) setType(field string, n *node) {
	raw, ok := e.text(field, n)
	if !ok {
		return
	}
	t, known := transportType(raw)
	if !known {
		e.fail(n, "unknown transport %s %q", field, raw)
		return
	}
	e.s.Transport = t
	e.s.Lines["type"] = n.line
}

// finish infers the transport when no type was given and checks that the
// declaration can be launched. It reports whether the entry is usable.
func (e *entry) finish() (Server, bool) {
	if e.bad {
		return Server{}, false
	}
	s := &e.s
	if s.Transport == None && s.Note == "" {
		switch {
		case s.Raw.Command != "":
			s.Transport = Stdio
		case s.Raw.URL != "":
			s.Transport = guessRemote(s.URL)
		}
	}
	switch {
	case s.Note != "":
	case s.Transport == Stdio && s.Raw.Command == "":
		e.fail(nil, "stdio server has no command")
	case (s.Transport == HTTP || s.Transport == SSE) && s.Raw.URL == "":
		e.fail(nil, "%s server has no url", s.Transport)
	case s.Transport == None:
		e.fail(nil, "neither command nor url is set")
	}
	if e.bad {
		return Server{}, false
	}
	return *s, true
}
