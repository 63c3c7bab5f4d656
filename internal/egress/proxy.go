package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mcpwarden/internal/netclass"
)

// Resolver looks up the addresses of a hostname. *net.Resolver satisfies
// it; tests inject a map so fake names resolve to loopback addresses
// without any DNS traffic.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens the upstream connection to an address the proxy has
// already checked. *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Event is the audit record of one connection attempt through the proxy,
// allowed or denied.
type Event struct {
	Time   time.Time
	Server string // the sandboxed server, from Options.Server
	Cause  string // the label set with Proxy.SetCause when the connection arrived (the tool call in flight)
	Method string // CONNECT, or the HTTP method of a plain-HTTP request
	Host   string // as the client wrote it
	Port   uint16
	URL    string     // plain-HTTP requests only, without query string
	IP     netip.Addr // the address dialled (allowed) or refused (denied, when resolved)
	Rule   string     // the allowlist entry that matched, as written
	// Allowed is the policy decision. An allowed connection can still
	// fail to connect; see DialError.
	Allowed   bool
	Reason    string // why it was denied; empty when allowed
	DialError string
	Redirect  string // for a denied redirect: the Location that was refused
}

// Options configure a [Proxy]. The zero value is usable and denies
// everything.
type Options struct {
	Server string     // name of the server whose traffic this proxy carries, for events
	Allow  *Allowlist // nil allows nothing
	// Resolver resolves hostnames; nil means net.DefaultResolver.
	Resolver Resolver
	// Dialer dials checked addresses; nil means a net.Dialer with a 10 s
	// timeout.
	Dialer Dialer
	// OwnAddrs are the gateway host's own addresses, denied unless
	// explicitly allowed. Nil means the addresses of every local
	// interface, read once by New.
	OwnAddrs []netip.Addr
	// OnEvent receives every connection's audit record. It is called
	// from many goroutines at once and must not block for long.
	OnEvent func(Event)
	Logger  *slog.Logger // nil discards
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Proxy is an HTTP forward proxy (CONNECT tunnels and plain-HTTP
// requests) that lets a sandboxed server reach only allowlisted
// destinations. Its methods are safe for concurrent use.
type Proxy struct {
	opts   Options
	log    *slog.Logger
	own    []netip.Addr
	cause  atomic.Pointer[string]
	rp     *httputil.ReverseProxy
	closed atomic.Bool

	mu      sync.Mutex
	servers []*http.Server
	tunnels map[net.Conn]struct{}
}

// New returns a proxy. It does not listen; call [Proxy.Serve].
func New(opts Options) *Proxy {
	p := &Proxy{opts: opts, tunnels: map[net.Conn]struct{}{}}
	p.log = opts.Logger
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "egress", "server", opts.Server)
	if p.opts.Resolver == nil {
		p.opts.Resolver = net.DefaultResolver
	}
	if p.opts.Dialer == nil {
		p.opts.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	if p.opts.Now == nil {
		p.opts.Now = time.Now
	}
	p.own = opts.OwnAddrs
	if p.own == nil {
		p.own = localAddrs()
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host },
		Transport:      p.transport(),
		ModifyResponse: p.checkRedirect,
		ErrorHandler:   p.forwardError,
	}
	return p
}

func localAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// SetCause sets the label attached to the events of connections that
// arrive from now on: the gateway sets it to the tool call in flight.
// With several calls in flight the most recent label wins.
func (p *Proxy) SetCause(cause string) { p.cause.Store(&cause) }

func (p *Proxy) currentCause() string {
	if c := p.cause.Load(); c != nil {
		return *c
	}
	return ""
}

// Serve accepts proxy connections on l until l fails or the proxy is
// closed. It may be called for several listeners. It returns nil after
// [Proxy.Close].
func (p *Proxy) Serve(l net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		l.Close()
		return nil
	}
	p.servers = append(p.servers, srv)
	p.mu.Unlock()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops every listener and cuts every open tunnel.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed.Store(true)
	servers, tunnels := p.servers, p.tunnels
	p.servers, p.tunnels = nil, map[net.Conn]struct{}{}
	p.mu.Unlock()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Close())
	}
	for c := range tunnels {
		c.Close()
	}
	return errors.Join(errs...)
}

// Decision is the outcome of checking one destination.
type Decision struct {
	Allowed bool
	Reason  string
	Rule    string
	// Addr is the address to dial when allowed, or the refused address
	// when the denial came after resolution.
	Addr netip.AddrPort
}

// Check decides whether host:port may be reached: the allowlist must
// match the name as written, then every address the name resolves to is
// classified and the first acceptable one is returned for dialling. The
// caller must dial exactly Decision.Addr so that a second resolution
// (DNS rebinding) cannot swap in an internal address.
func (p *Proxy) Check(ctx context.Context, host string, port uint16) Decision {
	rule, ok := p.opts.Allow.Match(host, port)
	if !ok {
		return Decision{Reason: fmt.Sprintf("%s is not in the egress allowlist", net.JoinHostPort(host, strconv.Itoa(int(port))))}
	}
	d := Decision{Rule: rule.Source}
	var addrs []netip.Addr
	if ip, err := netclass.ParseIP(host); err == nil {
		addrs = []netip.Addr{ip.WithZone("")}
	} else {
		name := strings.TrimSuffix(host, ".")
		if c := netclass.ClassifyHost(name); c != netclass.Unknown {
			// localhost and the metadata names never go to a resolver.
			d.Reason = fmt.Sprintf("%s is a %s name", name, c)
			return d
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		addrs, err = p.opts.Resolver.LookupNetIP(rctx, "ip", name)
		cancel()
		if err != nil || len(addrs) == 0 {
			d.Reason = fmt.Sprintf("resolving %s failed: %v", name, err)
			return d
		}
	}
	var firstReason string
	for _, a := range addrs {
		a = a.WithZone("")
		if rule.IP.IsValid() {
			// The entry names this very address (Match compared it):
			// that is the explicit permission internal addresses need.
			return Decision{Allowed: true, Rule: rule.Source, Addr: netip.AddrPortFrom(a.Unmap(), port)}
		}
		if reason := p.refuse(a); reason != "" {
			if firstReason == "" {
				firstReason = reason
				d.Addr = netip.AddrPortFrom(a, port)
			}
			continue
		}
		return Decision{Allowed: true, Rule: rule.Source, Addr: netip.AddrPortFrom(a.Unmap(), port)}
	}
	d.Reason = firstReason
	return d
}

// refuse returns why an address may not be dialled, or "".
func (p *Proxy) refuse(a netip.Addr) string {
	if p.opts.Allow.internalAllowed(a) {
		return ""
	}
	if c := netclass.Classify(a); c.Internal() {
		return fmt.Sprintf("%s is a %s address", a, c)
	}
	for _, o := range p.own {
		if sameAddr(o, a) {
			return fmt.Sprintf("%s is an address of the gateway host", a)
		}
	}
	return ""
}

func (p *Proxy) event(e Event) {
	e.Time = p.opts.Now()
	e.Server = p.opts.Server
	if e.Cause == "" {
		e.Cause = p.currentCause()
	}
	attrs := []any{"method", e.Method, "host", e.Host, "port", e.Port, "cause", e.Cause}
	if e.IP.IsValid() {
		attrs = append(attrs, "ip", e.IP.String())
	}
	switch {
	case !e.Allowed:
		p.log.Warn("egress denied", append(attrs, "reason", e.Reason)...)
	case e.DialError != "":
		p.log.Info("egress allowed, connect failed", append(attrs, "rule", e.Rule, "error", e.DialError)...)
	default:
		p.log.Info("egress allowed", append(attrs, "rule", e.Rule)...)
	}
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(e)
	}
}

// ServeHTTP implements the proxy protocol.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r)
	case r.URL.IsAbs() && r.URL.Scheme == "http":
		p.forward(w, r)
	case r.URL.IsAbs():
		deny(w, http.StatusBadRequest, fmt.Sprintf("scheme %q is not proxied; use CONNECT for https", r.URL.Scheme))
	default:
		deny(w, http.StatusBadRequest, "this is an egress proxy: send CONNECT or an absolute http:// URL")
	}
}

func deny(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("X-Mcpwarden-Denied", reason)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	fmt.Fprintf(w, "mcpwarden egress: %s\n", reason)
}

// splitHostPort splits an authority. A missing port takes defaultPort
// when it is non-zero.
func splitHostPort(hostport string, defaultPort uint16) (string, uint16, error) {
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if defaultPort != 0 && errors.As(err, &ae) && ae.Err == "missing port in address" {
			host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
			if host == "" {
				return "", 0, fmt.Errorf("no host in %q", hostport)
			}
			return host, defaultPort, nil
		}
		return "", 0, fmt.Errorf("bad host:port %q", hostport)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 || host == "" {
		return "", 0, fmt.Errorf("bad host:port %q", hostport)
	}
	return host, uint16(port), nil
}

func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	cause := p.currentCause()
	host, port, err := splitHostPort(r.Host, 0)
	ev := Event{Method: http.MethodConnect, Host: host, Port: port, Cause: cause}
	if err != nil {
		ev.Host, ev.Reason = r.Host, err.Error()
		p.event(ev)
		deny(w, http.StatusBadRequest, err.Error())
		return
	}
	d := p.Check(r.Context(), host, port)
	ev.IP, ev.Rule = d.Addr.Addr(), d.Rule
	if !d.Allowed {
		ev.Reason = d.Reason
		p.event(ev)
		deny(w, http.StatusForbidden, d.Reason)
		return
	}
	ev.Allowed = true
	up, err := p.opts.Dialer.DialContext(r.Context(), "tcp", d.Addr.String())
	if err != nil {
		ev.DialError = err.Error()
		p.event(ev)
		http.Error(w, "mcpwarden egress: connect failed", http.StatusBadGateway)
		return
	}
	p.event(ev)
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "mcpwarden egress: cannot tunnel over this connection", http.StatusInternalServerError)
		return
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		down.Close()
		up.Close()
		return
	}
	p.tunnel(down, brw.Reader, up)
}

// tunnel copies bytes both ways until either side closes.
func (p *Proxy) tunnel(down net.Conn, buffered *bufio.Reader, up net.Conn) {
	if !p.track(down, up) {
		down.Close()
		up.Close()
		return
	}
	defer p.untrack(down, up)
	done := make(chan struct{}, 2)
	go func() {
		// Bytes the client sent after the CONNECT line sit in the reader.
		io.Copy(up, io.MultiReader(io.LimitReader(buffered, int64(buffered.Buffered())), down))
		closeWrite(up)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(down, up)
		closeWrite(down)
		done <- struct{}{}
	}()
	<-done
	<-done
	down.Close()
	up.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.tunnels, c)
	}
}

type ctxKey int

const (
	decisionKey ctxKey = iota
	eventKey
)

// forward proxies a plain-HTTP request. The check runs here; the
// transport's dialer then connects to exactly the checked address.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	host, port, err := splitHostPort(r.URL.Host, 80)
	ev := &Event{Method: r.Method, Host: host, Port: port, URL: redactURL(r.URL), Cause: p.currentCause()}
	if err != nil {
		ev.Host, ev.Reason = r.URL.Host, err.Error()
		p.event(*ev)
		deny(w, http.StatusBadRequest, err.Error())
		return
	}
	d := p.Check(r.Context(), host, port)
	ev.IP, ev.Rule = d.Addr.Addr(), d.Rule
	if !d.Allowed {
		ev.Reason = d.Reason
		p.event(*ev)
		deny(w, http.StatusForbidden, d.Reason)
		return
	}
	ev.Allowed = true
	r.Header.Del("Proxy-Authorization")
	r.Header.Del("Proxy-Connection")
	ctx := context.WithValue(r.Context(), decisionKey, d)
	ctx = context.WithValue(ctx, eventKey, ev)
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

func (p *Proxy) transport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d, ok := ctx.Value(decisionKey).(Decision)
			if !ok || !d.Allowed {
				return nil, errors.New("egress: dial without a decision")
			}
			return p.opts.Dialer.DialContext(ctx, "tcp", d.Addr.String())
		},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ForceAttemptHTTP2:     false,
	}
}

// errRedirectDenied carries the refused Location to the error handler.
type errRedirectDenied struct {
	location string
	reason   string
}

func (e *errRedirectDenied) Error() string {
	return "redirect to " + e.location + " denied: " + e.reason
}

// checkRedirect re-checks where a redirect points. The client would come
// back through the proxy for the new URL and be checked then too; refusing
// the redirect here names it in the audit log next to the request that
// caused it.
func (p *Proxy) checkRedirect(resp *http.Response) error {
	ev, _ := resp.Request.Context().Value(eventKey).(*Event)
	if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.Header.Get("Location") == "" {
		if ev != nil {
			p.event(*ev)
		}
		return nil
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		return &errRedirectDenied{location: resp.Header.Get("Location"), reason: "unparseable Location"}
	}
	var defPort uint16 = 80
	if loc.Scheme == "https" {
		defPort = 443
	} else if loc.Scheme != "http" {
		return &errRedirectDenied{location: redactURL(loc), reason: fmt.Sprintf("scheme %q", loc.Scheme)}
	}
	host, port, err := splitHostPort(loc.Host, defPort)
	if err != nil {
		return &errRedirectDenied{location: redactURL(loc), reason: err.Error()}
	}
	if d := p.Check(resp.Request.Context(), host, port); !d.Allowed {
		return &errRedirectDenied{location: redactURL(loc), reason: d.Reason}
	}
	if ev != nil {
		p.event(*ev)
	}
	return nil
}

func (p *Proxy) forwardError(w http.ResponseWriter, r *http.Request, err error) {
	ev, _ := r.Context().Value(eventKey).(*Event)
	var rd *errRedirectDenied
	if errors.As(err, &rd) {
		if ev != nil {
			e := *ev
			e.Allowed, e.Reason, e.Redirect = false, rd.reason, rd.location
			p.event(e)
		}
		deny(w, http.StatusForbidden, rd.Error())
		return
	}
	if ev != nil {
		e := *ev
		e.DialError = err.Error()
		p.event(e)
	}
	http.Error(w, "mcpwarden egress: upstream request failed", http.StatusBadGateway)
}
