// Package config loads and validates mcpwarden's YAML configuration: the
// upstream MCP servers the gateway fronts, the listener, and the security
// policy the controls enforce.
//
// Loading is strict and happens in three steps, as in Tailscale's conffile:
// the file must exist (a missing file is [ErrNotFound], which callers may
// treat as "use defaults"; any other problem is an error), it is decoded
// with unknown keys rejected, and the decoded values are validated. Every
// problem is reported with file, line and column, the key path and what
// was expected, so that `mcpwarden config validate` reads like a compiler.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"mcpwarden/internal/access"
	"mcpwarden/internal/audit"
	"mcpwarden/internal/authn"
	"mcpwarden/internal/confval"
	"mcpwarden/internal/limits"
	"mcpwarden/internal/sandbox"
	"mcpwarden/internal/secretref"
)

// Version is the only configuration format version this build reads.
const Version = 1

// Defaults for the gateway section.
const (
	DefaultListen          = "127.0.0.1:8750"
	DefaultSeparator       = "__"
	DefaultMaxMessageBytes = 4 << 20
	DefaultCallTimeout     = 60 * time.Second
	DefaultStartTimeout    = 30 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
)

// ErrNotFound reports that the configuration file does not exist. It wraps
// [fs.ErrNotExist].
var ErrNotFound = fmt.Errorf("config file not found: %w", fs.ErrNotExist)

// Config is a whole configuration file.
type Config struct {
	Version int      `yaml:"version"`
	Gateway Gateway  `yaml:"gateway"`
	Servers []Server `yaml:"-"` // decoded from the "servers" mapping, in file order
	Policy  Policy   `yaml:"policy"`

	// File is the path the configuration was read from ("" for defaults).
	File string `yaml:"-"`
}

// Gateway configures the listener and the proxy core.
type Gateway struct {
	// Listen is the TCP address of the Streamable HTTP listener.
	Listen string `yaml:"listen"`
	// Path is the URL path of the MCP endpoint.
	Path string `yaml:"path"`
	// Separator joins server and tool or prompt names: "github__create_issue".
	Separator string `yaml:"separator"`
	// MaxMessageBytes bounds a single JSON-RPC message in either direction.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// CallTimeout bounds every request forwarded upstream, unless a server
	// sets its own.
	CallTimeout Duration `yaml:"call_timeout"`
	// DrainTimeout bounds how long SIGTERM waits for in-flight calls.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// AllowedOrigins lists the browser origins allowed to call the HTTP
	// endpoint, besides requests without an Origin header. Loopback origins
	// are allowed only when the listener is on loopback.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Server is one upstream MCP server.
type Server struct {
	Name string `yaml:"-"`

	// Transport is stdio, streamable or sse. It defaults to stdio when
	// Command is set, and to streamable (with legacy SSE fallback) when
	// URL is set.
	Transport string `yaml:"transport"`

	Command string            `yaml:"command"`
	Args    []string          `yaml:"args"`
	Env     map[string]string `yaml:"env"`
	Cwd     string            `yaml:"cwd"`

	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`

	// ProtocolVersion pins the revision offered upstream; empty negotiates
	// the newest both sides support.
	ProtocolVersion string `yaml:"protocol_version"`

	CallTimeout  Duration `yaml:"call_timeout"`
	StartTimeout Duration `yaml:"start_timeout"`
	Disabled     bool     `yaml:"disabled"`

	// Sandbox is the isolation profile of a stdio server; nil means the
	// strict default for its command (see package sandbox).
	Sandbox *sandbox.Profile `yaml:"sandbox"`
	// Secrets are credentials for this server only, resolved from
	// mcpwarden's environment, a file or a command when it starts: stdio
	// servers get each as an environment variable of that name; HTTP
	// servers can use them in headers as ${secret:NAME}. They are never
	// logged.
	Secrets map[string]secretref.Ref `yaml:"secrets"`

	// Line and Column locate the server's key in the file.
	Line   int `yaml:"-"`
	Column int `yaml:"-"`
}

// Policy is the security policy: one section per control.
type Policy struct {
	Log LogPolicy `yaml:"log"`
	// Audit configures the audit log of every call (see package audit):
	// SQLite at the default path, fail closed, secrets redacted, unless
	// set otherwise.
	Audit audit.Config `yaml:"audit"`
	// Auth authenticates callers of the HTTP listener with API keys and
	// JWT bearer tokens (see package authn). Required when the gateway
	// listens beyond loopback.
	Auth authn.Config `yaml:"auth"`
	// Access decides, rule by rule, who may use which tool, prompt and
	// resource (see package access).
	Access access.Config `yaml:"access"`
	// Limits bounds request rates, argument and result sizes, and call
	// times (see package limits).
	Limits limits.Config `yaml:"limits"`

	// The content controls (see content.go).
	Arguments ArgumentsPolicy `yaml:"arguments"`
	Output    OutputPolicy    `yaml:"output"`
	Secrets   SecretsPolicy   `yaml:"secrets"`
	Tools     ToolsPolicy     `yaml:"tools"`
	Pinning   PinningPolicy   `yaml:"pinning"`
	Flows     FlowsPolicy     `yaml:"flows"`
}

// LogPolicy configures the message-logging interceptor.
type LogPolicy struct {
	// Messages logs every message (request, response, notification) with
	// its timing. Off logs only denials and errors.
	Messages *bool `yaml:"messages"`
	// Params includes message params and results in the log, truncated.
	Params bool `yaml:"params"`
}

// Transports.
const (
	TransportStdio      = "stdio"
	TransportStreamable = "streamable"
	TransportSSE        = "sse"
)

// EffectiveTransport returns the transport the server will use.
func (s *Server) EffectiveTransport() string {
	if s.Transport != "" {
		return s.Transport
	}
	if s.URL != "" {
		return TransportStreamable
	}
	return TransportStdio
}

// Duration is a time.Duration written as "30s" or "1m30s"; the policy
// sections share it.
type Duration = confval.Duration

// Default returns the configuration used when no file is given: no
// servers, safe defaults everywhere.
func Default() *Config {
	c := &Config{Version: Version}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every unset value with its default. Parse calls it;
// code that builds a Config by hand calls it before use.
func (c *Config) ApplyDefaults() {
	g := &c.Gateway
	if g.Listen == "" {
		g.Listen = DefaultListen
	}
	if g.Path == "" {
		g.Path = "/mcp"
	}
	if g.Separator == "" {
		g.Separator = DefaultSeparator
	}
	if g.MaxMessageBytes == 0 {
		g.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if g.CallTimeout == 0 {
		g.CallTimeout = Duration(DefaultCallTimeout)
	}
	if g.DrainTimeout == 0 {
		g.DrainTimeout = Duration(DefaultDrainTimeout)
	}
	for i := range c.Servers {
		s := &c.Servers[i]
		if s.CallTimeout == 0 {
			s.CallTimeout = g.CallTimeout
		}
		if s.StartTimeout == 0 {
			s.StartTimeout = Duration(DefaultStartTimeout)
		}
	}
	if c.Policy.Log.Messages == nil {
		on := true
		c.Policy.Log.Messages = &on
	}
	c.Policy.applyContentDefaults()
}

// Server returns the server with the given name.
func (c *Config) Server(name string) (*Server, bool) {
	for i := range c.Servers {
		if c.Servers[i].Name == name {
			return &c.Servers[i], true
		}
	}
	return nil, false
}

// Load reads, decodes and validates the configuration file at path.
// A missing file returns an error wrapping [ErrNotFound]; every other
// problem is an [Errors] listing each one with its position.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Error is one problem in a configuration file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int
	Path   string // key path, e.g. "servers.github.command"
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
