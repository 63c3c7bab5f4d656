// Package egress is the egress proxy of sandboxed MCP servers: an HTTP
// forward proxy (CONNECT tunnels and plain-HTTP requests) that lets a
// server reach only the destinations on its allowlist.
//
// A sandboxed server's network namespace has no route out; the sandbox
// hands the server HTTP_PROXY/HTTPS_PROXY pointing at a listener of this
// proxy inside the namespace. Every connection is checked twice: the name
// as written must match an allowlist entry ([ParseAllowlist]), and every
// address it resolves to is classified with [mcpwarden/internal/netclass].
// Loopback, private, link-local, metadata and the gateway host's own
// addresses are refused unless explicitly allowed. The proxy then dials
// exactly the address it checked, so DNS rebinding cannot substitute an
// internal address between check and connect. Redirects of plain-HTTP
// requests are checked before the client sees them, and every decision is
// reported as an [Event] with the server name and the cause label the
// gateway sets ([Proxy.SetCause]).
//
// Usage:
//
//	allow, err := egress.ParseAllowlist([]string{"api.github.com:443", "*.npmjs.org"}, nil)
//	p := egress.New(egress.Options{Server: "github", Allow: allow, OnEvent: audit})
//	go p.Serve(listener)
//	defer p.Close()
package egress
