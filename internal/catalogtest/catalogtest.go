// Package catalogtest is a [pipeline.Catalog] for tests of controls: tool
// and prompt definitions, instructions and namespaced names held in
// memory, changeable while a test runs.
//
//	cat := catalogtest.New("__")
//	cat.SetTool("demo", "read_file", `{"name":"read_file","inputSchema":{"type":"object"}}`)
//	c := &pipeline.Call{Method: "tools/call", Server: "demo", Name: "read_file", Catalog: cat}
package catalogtest

import (
	"encoding/json"
	"strings"
	"sync"

	"mcpwarden/internal/pipeline"
)

// Catalog is safe for concurrent use.
type Catalog struct {
	sep     string
	mu      sync.Mutex
	tools   map[string]string // "server\x00name" → definition
	prompts map[string]string
	instr   map[string]string
}

var _ pipeline.Catalog = (*Catalog)(nil)

// New returns an empty catalog whose downstream names join server and
// name with sep, as the gateway does.
func New(sep string) *Catalog {
	return &Catalog{sep: sep, tools: map[string]string{}, prompts: map[string]string{}, instr: map[string]string{}}
}

// SetTool sets (or, with def "", removes) a tool definition.
func (c *Catalog) SetTool(server, name, def string) { c.set(c.tools, server, name, def) }

// SetPrompt sets (or removes) a prompt definition.
func (c *Catalog) SetPrompt(server, name, def string) { c.set(c.prompts, server, name, def) }

// SetInstructions sets a server's instructions.
func (c *Catalog) SetInstructions(server, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.instr[server] = text
}

func (c *Catalog) set(m map[string]string, server, name, def string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if def == "" {
		delete(m, server+"\x00"+name)
		return
	}
	m[server+"\x00"+name] = def
}

// Tool implements [pipeline.Catalog].
func (c *Catalog) Tool(server, name string) (json.RawMessage, bool) {
	return c.get(c.tools, server, name)
}

// Prompt returns a prompt definition, as the gateway's catalog does.
func (c *Catalog) Prompt(server, name string) (json.RawMessage, bool) {
	return c.get(c.prompts, server, name)
}

// Instructions returns a server's instructions, as the gateway's catalog
// does.
func (c *Catalog) Instructions(server string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instr[server]
}

func (c *Catalog) get(m map[string]string, server, name string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := m[server+"\x00"+name]
	return json.RawMessage(d), ok
}

// Resolve implements [pipeline.Catalog] for names joined with the
// separator.
func (c *Catalog) Resolve(name string) (string, string, bool) {
	s, n, ok := strings.Cut(name, c.sep)
	return s, n, ok && s != "" && n != ""
}

// Owner implements [pipeline.Catalog]; this catalog lists no resources.
func (c *Catalog) Owner(string) string { return "" }
