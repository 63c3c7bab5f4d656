// Package authcheck reviews the authentication model of an MCP server
// reached over HTTP (Streamable HTTP or legacy SSE): does it accept
// unauthenticated calls; when it demands a token, does it say so the way
// the MCP authorization spec requires (a WWW-Authenticate challenge on
// 401 and RFC 9728 Protected Resource Metadata naming an authorization
// server); does it accept requests from a foreign Origin, or, for a
// local server, under a foreign Host name (DNS rebinding); and is a local
// server listening on every interface instead of loopback only.
//
// The probes are safe to run against a real endpoint: each is one
// initialize request (or, for SSE, one GET of the event stream, closed at
// once), every session a probe opens is deleted again, no tool is ever
// called, and nothing is sent anywhere but the server's own origin.
package authcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/netclass"
	"mcpwarden/internal/report"
)

// Rule IDs. They are stable and never reused.
const (
	Unauthenticated   = "auth.unauthenticated"
	MissingChallenge  = "auth.www_authenticate_missing"
	MissingPRM        = "auth.prm_missing"
	InvalidPRM        = "auth.prm_invalid"
	ForeignOrigin     = "auth.foreign_origin"
	ForeignHost       = "auth.foreign_host"
	BindAllInterfaces = "transport.bind_all_interfaces"
)

// Rules documents the rules of this package.
func Rules() []report.Rule {
	return []report.Rule{
		{ID: Unauthenticated, Category: finding.AuthorizationBypass, Severity: finding.High, Summary: "the server accepts calls without credentials"},
		{ID: MissingChallenge, Category: finding.AuthorizationBypass, Severity: finding.Medium, Summary: "a 401 response has no WWW-Authenticate challenge"},
		{ID: MissingPRM, Category: finding.AuthorizationBypass, Severity: finding.Medium, Summary: "no RFC 9728 Protected Resource Metadata"},
		{ID: InvalidPRM, Category: finding.AuthorizationBypass, Severity: finding.Medium, Summary: "the Protected Resource Metadata is wrong"},
		{ID: ForeignOrigin, Category: finding.AuthorizationBypass, Severity: finding.High, Summary: "the server accepts requests from a foreign Origin"},
		{ID: ForeignHost, Category: finding.AuthorizationBypass, Severity: finding.High, Summary: "a local server answers under any Host name (DNS rebinding)"},
		{ID: BindAllInterfaces, Category: finding.Transport, Severity: finding.High, Summary: "a local server listens on every network interface"},
	}
}

// Probe values that can never belong to a real site: .invalid is
// reserved (RFC 2606) and never resolves.
const (
	probeOrigin = "http://rebinding-probe.mcpwarden.invalid"
	probeHost   = "rebinding-probe.mcpwarden.invalid"
)

// Options configure [Check]. The zero value is usable.
type Options struct {
	// HTTPClient sends the probes; nil means a client with a 10s timeout
	// that does not follow redirects.
	HTTPClient *http.Client
	// Headers are the credentials the scan was given for this server
	// (already expanded); the unauthenticated probe leaves them out.
	Headers map[string]string
	// SSE selects the legacy HTTP+SSE transport (GET of the event
	// stream) instead of Streamable HTTP (POST of initialize).
	SSE bool
	// Listeners reads the machine's listening sockets for the binding
	// check; nil means /proc/net/tcp and tcp6 (Linux; elsewhere the check
	// is skipped).
	Listeners func() ([]Listener, error)
	Logger    *slog.Logger
}

// Result is what the probes found.
type Result struct {
	Findings []finding.Finding
	// NeedsAuth is set when the server refuses the credentials the scan
	// has (none, or the ones given): it cannot be reviewed without them.
	NeedsAuth bool
	// Reason explains NeedsAuth: the status and the challenge.
	Reason string
}

type checker struct {
	server string
	u      *url.URL
	opts   Options
	hc     *http.Client
	log    *slog.Logger
	res    Result
	local  bool
}

// Check probes the server at rawURL. It never fails: a probe that cannot
// run is logged and skipped, and the scan's own connection decides
// whether the server was reviewed.
func Check(ctx context.Context, server, rawURL string, opts Options) Result {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Result{}
	}
	c := &checker{server: server, u: u, opts: opts, hc: opts.HTTPClient, log: opts.Logger}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 10 * time.Second}
	}
	// Never follow a redirect: it could lead a probe off the server's
	// origin.
	hc := *c.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	host := u.Hostname()
	class := netclass.ClassifyHost(host)
	c.local = class == netclass.Loopback || class == netclass.Unspecified
	c.bindCheck(class)

	anon := c.probe(ctx, nil, "", "")
	if anon.err != nil {
		c.log.Debug("auth probe failed", "server", server, "err", anon.err)
		return c.res
	}
	switch {
	case anon.ok():
		sev, where := finding.High, "a remote server"
		if c.local {
			sev, where = finding.Medium, "a local server: any local process, and any web page that reaches it by DNS rebinding, can use it"
		}
		note := fmt.Sprintf("HTTP %d to %s with no Authorization header", anon.status, anon.what)
		if len(opts.Headers) > 0 {
			note += "; the credentials given to the scan are not needed"
		}
		c.add(Unauthenticated, finding.AuthorizationBypass, sev, 0.95, "Server accepts unauthenticated calls",
			"The server answered the MCP handshake without any credentials: whoever can reach it can list and call its tools ("+where+"). Require OAuth 2.1 bearer tokens as the MCP authorization spec describes.",
			finding.Evidence{Field: "probe." + anon.what, Note: note})
	case anon.status == http.StatusUnauthorized || anon.status == http.StatusForbidden:
		c.challenge(ctx, anon)
		if len(opts.Headers) == 0 {
			c.res.NeedsAuth = true
			c.res.Reason = anon.describe()
		} else if auth := c.probe(ctx, opts.Headers, "", ""); auth.err == nil && (auth.status == http.StatusUnauthorized || auth.status == http.StatusForbidden) {
			c.res.NeedsAuth = true
			c.res.Reason = "the credentials given were refused: " + auth.describe()
		}
	}
	if c.res.NeedsAuth {
		return c.res
	}
	headers := opts.Headers
	if o := c.probe(ctx, headers, probeOrigin, ""); o.err == nil && o.ok() {
		sev, why := finding.Medium, "A web page on any site can send requests to the server from a user's browser."
		if c.local {
			sev, why = finding.High, "A web page on any site can drive this local server from the user's browser (DNS rebinding)."
		}
		c.add(ForeignOrigin, finding.AuthorizationBypass, sev, 0.9, "Server accepts requests from a foreign Origin",
			why+" The MCP transport spec requires servers to validate Origin; reject origins you do not serve with 403.",
			finding.Evidence{Field: "probe.origin", Text: "Origin: " + probeOrigin, Note: fmt.Sprintf("HTTP %d to %s", o.status, o.what)})
	}
	if c.local {
		if h := c.probe(ctx, headers, "", probeHost+portSuffix(c.u)); h.err == nil && h.ok() {
			c.add(ForeignHost, finding.AuthorizationBypass, finding.High, 0.9, "Local server answers under any Host name",
				"A local server that does not check the Host header can be reached from a web page by DNS rebinding: the attacker's name resolves to 127.0.0.1 and the browser sends the page's requests to this server. Accept only localhost and 127.0.0.1 as Host.",
				finding.Evidence{Field: "probe.host", Text: "Host: " + probeHost + portSuffix(c.u), Note: fmt.Sprintf("HTTP %d to %s", h.status, h.what)})
		}
	}
	return c.res
}

func portSuffix(u *url.URL) string {
	if p := u.Port(); p != "" {
		return ":" + p
	}
	return ""
}

func (c *checker) add(rule string, cat finding.Category, sev finding.Severity, conf float64, title, detail string, ev ...finding.Evidence) {
	c.res.Findings = append(c.res.Findings, finding.Finding{RuleID: rule, Category: cat, Severity: sev, Confidence: conf,
		Server: c.server, Title: title, Detail: detail, Evidence: ev})
}

type answer struct {
	what      string // "initialize" or "GET of the event stream"
	status    int
	challenge string
	err       error
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

func (a answer) describe() string {
	s := fmt.Sprintf("HTTP %d %s", a.status, http.StatusText(a.status))
	if a.challenge != "" {
		s += "; WWW-Authenticate: " + clip(a.challenge, 200)
	} else {
		s += " with no WWW-Authenticate challenge"
	}
	return s
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcpwarden-authcheck","version":"1"}}}`

// probe sends one handshake request with the given headers, Origin and
// Host override, and deletes any session it opened.
func (c *checker) probe(ctx context.Context, headers map[string]string, origin, host string) answer {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var req *http.Request
	var err error
	a := answer{what: "initialize"}
	if c.opts.SSE {
		a.what = "GET of the event stream"
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.u.String(), nil)
		if err == nil {
			req.Header.Set("Accept", "text/event-stream")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.u.String(), strings.NewReader(initialize))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
		}
	}
	if err != nil {
		a.err = err
		return a
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	// Only the status and headers matter; an event stream would never
	// end, so do not read it.
	resp.Body.Close()
	a.status = resp.StatusCode
	a.challenge = resp.Header.Get("WWW-Authenticate")
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" && !c.opts.SSE {
		c.deleteSession(headers, host, sid)
	}
	return a
}

func (c *checker) deleteSession(headers map[string]string, host, sid string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.u.String(), nil)
	if err != nil {
		return
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Mcp-Session-Id", sid)
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
	}
}

// challenge reviews a 401/403: the WWW-Authenticate header and the
// Protected Resource Metadata it should lead to.
func (c *checker) challenge(ctx context.Context, a answer) {
	if a.status == http.StatusUnauthorized && a.challenge == "" {
		c.add(MissingChallenge, finding.AuthorizationBypass, finding.Medium, 0.9, "401 response has no WWW-Authenticate challenge",
			"RFC 9110 requires a WWW-Authenticate header on 401, and the MCP authorization spec uses it (resource_metadata) to tell clients where to get a token. Clients cannot start the OAuth flow without it.",
			finding.Evidence{Field: "probe." + a.what, Note: fmt.Sprintf("HTTP %d without WWW-Authenticate", a.status)})
	}
	var candidates []string
	metaParam := param(a.challenge, "resource_metadata")
	if metaParam != "" {
		if m, err := c.u.Parse(metaParam); err == nil && sameOrigin(m, c.u) {
			candidates = append(candidates, m.String())
		} else {
			c.log.Debug("resource_metadata on another origin; not fetched", "server", c.server, "url", metaParam)
		}
	}
	base := c.u.Scheme + "://" + c.u.Host + "/.well-known/oauth-protected-resource"
	if p := strings.TrimSuffix(c.u.EscapedPath(), "/"); p != "" {
		candidates = append(candidates, base+p)
	}
	candidates = append(candidates, base)
	var doc []byte
	var from string
	for _, cand := range candidates {
		if b, ok := c.fetch(ctx, cand); ok {
			doc, from = b, cand
			break
		}
	}
	if doc == nil {
		note := "tried " + strings.Join(candidates, ", ")
		if metaParam != "" && len(candidates) > 0 && candidates[0] != metaParam {
			note = "resource_metadata " + clip(metaParam, 120) + " is on another origin; " + note
		}
		c.add(MissingPRM, finding.AuthorizationBypass, finding.Medium, 0.8, "No Protected Resource Metadata (RFC 9728)",
			"MCP servers that require authorization must publish RFC 9728 metadata naming their authorization servers, so that clients can obtain a token for exactly this resource. Without it clients fall back to guesses or to static tokens pasted into configs.",
			finding.Evidence{Field: "probe.protected_resource_metadata", Note: note})
		return
	}
	var why []string
	defer func() {
		if len(why) > 0 {
			c.invalid(from, why)
		}
	}()
	var prm struct {
		Resource             *string  `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal(doc, &prm); err != nil {
		why = append(why, "not a JSON object: "+clip(err.Error(), 100))
		return
	}
	if prm.Resource == nil || *prm.Resource == "" {
		why = append(why, `no "resource"`)
	} else if !sameResource(*prm.Resource, c.u) {
		why = append(why, fmt.Sprintf(`"resource" is %q, not this server's URL %s`, clip(*prm.Resource, 120), c.u.Redacted()))
	}
	if len(prm.AuthorizationServers) == 0 {
		why = append(why, `no "authorization_servers": clients cannot tell where to get a token`)
	}
	for _, as := range prm.AuthorizationServers {
		if u, err := url.Parse(as); err != nil || (u.Scheme != "https" && netclass.ClassifyHost(u.Hostname()) != netclass.Loopback) {
			why = append(why, fmt.Sprintf("authorization server %q is not an https URL", clip(as, 120)))
		}
	}
}

func (c *checker) invalid(from string, why []string) {
	var ev []finding.Evidence
	for _, w := range why {
		ev = append(ev, finding.Evidence{Field: "probe.protected_resource_metadata", Text: from, Note: w})
	}
	c.add(InvalidPRM, finding.AuthorizationBypass, finding.Medium, 0.85, "Protected Resource Metadata is wrong",
		"Clients must check the metadata against the server they are talking to (RFC 9728 §3.3) and refuse metadata that does not match; a wrong document breaks sign-in or points clients at the wrong authorization server.", ev...)
}

func (c *checker) fetch(ctx context.Context, u string) ([]byte, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, false
	}
	b = bytes.TrimSpace(b)
	return b, len(b) > 0
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// sameResource compares a metadata resource identifier with the server
// URL: scheme, host and port, and path up to a trailing slash.
func sameResource(resource string, u *url.URL) bool {
	r, err := url.Parse(resource)
	if err != nil {
		return false
	}
	if !sameOrigin(r, u) && !(strings.EqualFold(r.Scheme, u.Scheme) && strings.EqualFold(r.Hostname(), u.Hostname()) && defaultPort(r) == defaultPort(u)) {
		return false
	}
	rp, up := strings.TrimSuffix(r.EscapedPath(), "/"), strings.TrimSuffix(u.EscapedPath(), "/")
	// A resource identifier may name the server's root rather than its
	// endpoint path; both are in use.
	return rp == up || rp == ""
}

func defaultPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// param extracts an auth-param value from a WWW-Authenticate header:
// name=value or name="quoted value", case-insensitively, never from
// inside another parameter's quoted value.
func param(header, name string) string {
	inQuote := false
	for i := 0; i < len(header); i++ {
		c := header[i]
		if inQuote {
			switch c {
			case '\\':
				i++
			case '"':
				inQuote = false
			}
			continue
		}
		if c == '"' {
			inQuote = true
			continue
		}
		boundary := i == 0 || header[i-1] == ' ' || header[i-1] == ',' || header[i-1] == '\t'
		if !boundary || i+len(name) > len(header) || !strings.EqualFold(header[i:i+len(name)], name) {
			continue
		}
		k := i + len(name)
		for k < len(header) && header[k] == ' ' {
			k++
		}
		if k >= len(header) || header[k] != '=' {
			continue
		}
		k++
		for k < len(header) && header[k] == ' ' {
			k++
		}
		if k < len(header) && header[k] == '"' {
			var b strings.Builder
			for k++; k < len(header); k++ {
				switch header[k] {
				case '\\':
					if k+1 < len(header) {
						k++
						b.WriteByte(header[k])
					}
				case '"':
					return b.String()
				default:
					b.WriteByte(header[k])
				}
			}
			return b.String()
		}
		end := strings.IndexAny(header[k:], ", \t")
		if end < 0 {
			return header[k:]
		}
		return header[k : k+end]
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Listener is a listening TCP socket of this machine.
type Listener struct {
	Addr net.IP
	Port int
}
