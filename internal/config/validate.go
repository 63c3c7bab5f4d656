package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/access"
	"mcpwarden/internal/authn"
	"mcpwarden/internal/confval"
	"mcpwarden/internal/netclass"
)

// ProtocolVersions are the MCP revisions a server may be pinned to.
var ProtocolVersions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

var (
	serverNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	separatorRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,8}$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func (p *parser) validate(c *Config, root *yaml.Node) {
	at := func(path ...string) *yaml.Node { return valueNode(root, path...) }
	g := &c.Gateway

	if host, port, err := net.SplitHostPort(g.Listen); err != nil || port == "" {
		p.errorf(at("gateway", "listen"), "gateway.listen", "expected host:port such as %s, got %q", DefaultListen, g.Listen)
	} else if host == "" {
		p.errorf(at("gateway", "listen"), "gateway.listen", "name the interface to listen on (%s for this machine only); an empty host listens on every interface", DefaultListen)
	}
	if !strings.HasPrefix(g.Path, "/") {
		p.errorf(at("gateway", "path"), "gateway.path", "expected an absolute URL path such as /mcp, got %q", g.Path)
	}
	if !separatorRE.MatchString(g.Separator) {
		p.errorf(at("gateway", "separator"), "gateway.separator", "expected 1 to 8 characters from A-Z a-z 0-9 _ . - (they become part of tool names), got %q", g.Separator)
	}
	if g.MaxMessageBytes < 1024 || g.MaxMessageBytes > 1<<30 {
		p.errorf(at("gateway", "max_message_bytes"), "gateway.max_message_bytes", "expected a size between 1024 and 1073741824 bytes, got %d", g.MaxMessageBytes)
	}
	for i, o := range g.AllowedOrigins {
		path := fmt.Sprintf("gateway.allowed_origins[%d]", i)
		if err := checkOrigin(o); err != nil {
			n := at("gateway", "allowed_origins")
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				n = n.Content[i]
			}
			p.errorf(n, path, "%v", err)
		}
	}

	if err := c.Policy.Audit.Validate(); err != nil {
		p.errorf(at("policy", "audit"), "policy.audit", "%v", err)
	}
	p.section(root, "policy.auth", c.Policy.Auth.Validate())
	if _, es := access.Compile(c.Policy.Access); len(es) > 0 {
		p.section(root, "policy.access", es)
	}
	p.section(root, "policy.limits", c.Policy.Limits.Validate())
	if err := CheckExposure(g.Listen, &c.Policy.Auth); err != nil {
		p.errorf(at("gateway", "listen"), "gateway.listen", "%v", err)
	}

	p.validateContent(c, root)

	seen := make(map[string]string)
	for i := range c.Servers {
		s := &c.Servers[i]
		p.validateServer(c, s, at("servers", s.Name), seen)
	}
}

func (p *parser) validateServer(c *Config, s *Server, n *yaml.Node, seen map[string]string) {
	path := "servers." + s.Name
	key := &yaml.Node{Line: s.Line, Column: s.Column}
	field := func(name string) *yaml.Node { return valueNode(n, name) }

	switch {
	case !serverNameRE.MatchString(s.Name):
		p.errorf(key, path, "server names must be 1 to 64 characters from A-Z a-z 0-9 _ - and start with a letter or digit")
	case strings.Contains(s.Name, c.Gateway.Separator):
		p.errorf(key, path, "the server name contains the separator %q, so its tool names would be ambiguous; rename the server or set gateway.separator", c.Gateway.Separator)
	}
	if other, dup := seen[strings.ToLower(s.Name)]; dup {
		p.errorf(key, path, "collides with server %q (names are compared case-insensitively, because clients may fold case)", other)
	}
	seen[strings.ToLower(s.Name)] = s.Name

	switch t := s.EffectiveTransport(); t {
	case TransportStdio:
		if s.Command == "" {
			p.errorf(n, path, "a stdio server needs a command")
		}
		if s.URL != "" {
			p.errorf(field("url"), path+".url", "a stdio server takes a command, not a url; remove one of them")
		}
		if len(s.Headers) > 0 {
			p.errorf(field("headers"), path+".headers", "headers apply to HTTP servers only")
		}
	case TransportStreamable, TransportSSE:
		if s.Command != "" || len(s.Args) > 0 || s.Cwd != "" {
			p.errorf(field("command"), path, "an HTTP server takes a url, not a command, args or cwd")
		}
		if len(s.Env) > 0 {
			p.errorf(field("env"), path+".env", "env applies to stdio servers only; HTTP servers take headers")
		}
		if s.URL == "" {
			p.errorf(n, path, "an HTTP server needs a url")
		} else if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.errorf(field("url"), path+".url", "expected an http:// or https:// URL, got %q", s.URL)
		} else if u.User != nil {
			p.errorf(field("url"), path+".url", "put credentials in headers (or a secret reference), not in the URL, where they end up in logs")
		}
		for k := range s.Headers {
			if !headerNameRE.MatchString(k) {
				p.errorf(valueNode(field("headers"), k), path+".headers."+k, "not a valid HTTP header name")
			}
		}
	default:
		p.errorf(field("transport"), path+".transport", "expected %s, %s or %s, got %q", TransportStdio, TransportStreamable, TransportSSE, t)
	}
	for k := range s.Env {
		if !envNameRE.MatchString(k) {
			p.errorf(valueNode(field("env"), k), path+".env."+k, "not a valid environment variable name")
		}
	}
	if s.Sandbox != nil && s.EffectiveTransport() != TransportStdio {
		p.errorf(field("sandbox"), path+".sandbox", "a sandbox applies to stdio servers, which mcpwarden launches; an HTTP server runs elsewhere")
	}
	for k, ref := range s.Secrets {
		if !envNameRE.MatchString(k) {
			p.errorf(valueNode(field("secrets"), k), path+".secrets."+k, "not a valid environment variable name")
		} else if err := ref.Validate(); err != nil {
			p.errorf(valueNode(field("secrets"), k), path+".secrets."+k, "%v", err)
		}
	}
	if s.ProtocolVersion != "" && !slices.Contains(ProtocolVersions, s.ProtocolVersion) {
		p.errorf(field("protocol_version"), path+".protocol_version", "expected one of %s, got %q", strings.Join(ProtocolVersions, ", "), s.ProtocolVersion)
	}
}

// CheckExposure refuses a listener reachable from other machines without
// authentication: anyone who can connect could use every configured
// server with its credentials.
func CheckExposure(listen string, auth *authn.Config) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" || auth.Enabled() {
		return nil // a malformed or empty address is reported on its own
	}
	if netclass.ClassifyHost(host) != netclass.Loopback {
		return fmt.Errorf("%s is reachable from other machines, so callers must authenticate: configure policy.auth (api_keys or jwt, see docs/policy.md) or listen on %s", listen, DefaultListen)
	}
	return nil
}

// section reports a policy section's validation errors at their nodes.
func (p *parser) section(root *yaml.Node, prefix string, es confval.Errors) {
	for _, e := range es.Prefix(prefix) {
		n, _ := nodeAt(root, e.Path)
		line, col := n.Line, n.Column
		if e.Line > 0 && n.Kind == yaml.ScalarNode {
			line, col = p.inside(n, e.Line, e.Column)
		}
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Column: col, Path: e.Path, Msg: e.Msg})
	}
}

// inside locates a line and column given inside a scalar's value (a CEL
// expression) in the file: exactly for one-line values and literal
// blocks, at the value's start otherwise.
func (p *parser) inside(n *yaml.Node, line, col int) (int, int) {
	switch n.Style {
	case yaml.LiteralStyle:
		// The text starts on the line after "|", indented by as much as
		// its first line.
		l := n.Line + line
		if n.Line < len(p.lines) && l-1 < len(p.lines) {
			first := p.lines[n.Line]
			indent := len(first) - len(strings.TrimLeft(first, " "))
			return l, indent + col
		}
	case 0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 && !strings.Contains(n.Value, "\n") {
			off := 0
			if n.Style != 0 {
				off = 1 // the opening quote
			}
			return n.Line, n.Column + off + col - 1
		}
	}
	return n.Line, n.Column
}

// nodeAt finds the node at a key path such as
// "policy.auth.api_keys[1].hash". When the path does not exist it returns
// the deepest node on the way, and exact is false.
func nodeAt(root *yaml.Node, path string) (n *yaml.Node, exact bool) {
	n = root
	for _, seg := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(seg, "[")
		if key != "" {
			next := valueNode(n, key)
			if next == n {
				return n, false
			}
			n = next
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return n, false
			}
			n = n.Content[i]
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return n, true
}

func checkOrigin(o string) error {
	if o == "*" || o == "null" {
		return fmt.Errorf("%q would let any web page drive the gateway; list exact origins such as https://app.example.com", o)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("expected an origin such as https://app.example.com, got %q", o)
	}
	return nil
}

// Position returns the line and column of the value at a key path such as
// "policy.access.rules[2]" in a configuration file's text, for tools that
// point at parts of a valid file (`mcpwarden policy check`).
func Position(data []byte, path string) (line, col int, ok bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) != 1 {
		return 0, 0, false
	}
	n, exact := nodeAt(doc.Content[0], path)
	if !exact {
		return 0, 0, false
	}
	return n.Line, n.Column, true
}
