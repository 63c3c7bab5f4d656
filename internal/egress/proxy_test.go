package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeResolver resolves names from a map, so tests never send DNS
// traffic. It counts lookups per name.
type fakeResolver struct {
	mu    sync.Mutex
	m     map[string][][]netip.Addr // successive answers; the last repeats
	calls map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	answers, ok := r.m[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	n := r.calls[host]
	r.calls[host]++
	if n >= len(answers) {
		n = len(answers) - 1
	}
	return answers[n], nil
}

func resolver(m map[string]string) *fakeResolver {
	r := &fakeResolver{m: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for name, addrs := range m {
		for _, answer := range strings.Split(addrs, "|") {
			var as []netip.Addr
			for _, a := range strings.Split(answer, ",") {
				as = append(as, netip.MustParseAddr(a))
			}
			r.m[name] = append(r.m[name], as)
		}
	}
	return r
}

// guardDialer dials loopback addresses only and records every dial; a
// dial anywhere else fails the test instead of leaving the machine.
type guardDialer struct {
	t     *testing.T
	mu    sync.Mutex
	dials []string
}

func (g *guardDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	g.dials = append(g.dials, addr)
	g.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		g.t.Errorf("proxy dialled %q; only loopback is allowed in tests", addr)
		return nil, errors.New("guard: refused non-loopback dial")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (g *guardDialer) Dials() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.dials...)
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// listen opens a listener on a loopback address, skipping when the
// address cannot be bound (127.0.0.2 needs the whole 127/8 on lo, as on
// Linux).
func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// echo serves a line echo on l and counts connections.
func echo(l net.Listener) *int32Counter {
	c := &int32Counter{}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.inc()
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				io.WriteString(conn, "echo "+line)
			}()
		}
	}()
	return c
}

type int32Counter struct {
	mu sync.Mutex
	n  int
}

func (c *int32Counter) inc() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *int32Counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

type fixture struct {
	proxy *Proxy
	addr  string
	rec   *recorder
	dial  *guardDialer
	res   *fakeResolver
}

func newFixture(t *testing.T, allow, internal []string, names map[string]string) *fixture {
	t.Helper()
	al, err := ParseAllowlist(allow, internal)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{rec: &recorder{}, dial: &guardDialer{t: t}, res: resolver(names)}
	f.proxy = New(Options{
		Server: "srv", Allow: al, Resolver: f.res, Dialer: f.dial, OnEvent: f.rec.add,
		OwnAddrs: []netip.Addr{netip.MustParseAddr("198.51.100.77"), netip.MustParseAddr("8.8.4.4")},
	})
	l := listen(t, "127.0.0.1:0")
	f.addr = l.Addr().String()
	go f.proxy.Serve(l)
	t.Cleanup(func() { f.proxy.Close() })
	return f
}

// connect sends CONNECT target and, when it succeeds, a line through the
// tunnel. It returns the status code, the denial header and the echoed
// line.
func (f *fixture) connect(t *testing.T, target string) (int, string, string) {
	t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading CONNECT response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, resp.Header.Get("X-Mcpwarden-Denied"), ""
	}
	io.WriteString(c, "ping\n")
	line, _ := br.ReadString('\n')
	return resp.StatusCode, "", line
}

func TestConnect(t *testing.T) {
	legit := listen(t, "127.0.0.2:0")
	legitHits := echo(legit)
	canary := listen(t, "127.0.0.1:0")
	canaryHits := echo(canary)
	_, lport, _ := net.SplitHostPort(legit.Addr().String())
	_, cport, _ := net.SplitHostPort(canary.Addr().String())

	f := newFixture(t,
		[]string{"allowed.test:" + lport, "private.test:*", "rebind.test:*", "meta.test:*", "own.test:*", "mixed.test:*", "127.0.0.1:1", "*.wild.test:" + lport},
		[]string{"127.0.0.2/32"},
		map[string]string{
			"allowed.test":  "127.0.0.2",
			"private.test":  "10.0.0.1",
			"meta.test":     "169.254.169.254",
			"own.test":      "8.8.4.4",
			"mixed.test":    "127.0.0.1,127.0.0.2",
			"rebind.test":   "127.0.0.2|127.0.0.1",
			"a.wild.test":   "127.0.0.2",
			"canary.test":   "127.0.0.1",
			"notlisted.com": "127.0.0.2",
		})
	f.proxy.SetCause("tools/call fetch#7")

	tests := []struct {
		name       string
		target     string
		wantStatus int
		wantReason string
	}{
		{name: "allowlisted host", target: "allowed.test:" + lport, wantStatus: 200},
		{name: "wildcard", target: "a.wild.test:" + lport, wantStatus: 200},
		{name: "mixed answer dials the allowed address", target: "mixed.test:" + lport, wantStatus: 200},
		{name: "host loopback canary by address", target: "127.0.0.1:" + cport, wantStatus: 403, wantReason: "not in the egress allowlist"},
		{name: "host loopback canary by name", target: "canary.test:" + cport, wantStatus: 403, wantReason: "not in the egress allowlist"},
		{name: "localhost", target: "localhost:" + cport, wantStatus: 403, wantReason: "not in the egress allowlist"},
		{name: "not allowlisted", target: "notlisted.com:" + lport, wantStatus: 403, wantReason: "not in the egress allowlist"},
		{name: "wrong port", target: "allowed.test:" + cport, wantStatus: 403, wantReason: "not in the egress allowlist"},
		{name: "private address after resolution", target: "private.test:443", wantStatus: 403, wantReason: "10.0.0.1 is a private address"},
		{name: "metadata", target: "meta.test:80", wantStatus: 403, wantReason: "metadata address"},
		{name: "gateway's own address", target: "own.test:443", wantStatus: 403, wantReason: "address of the gateway host"},
		{name: "unresolvable", target: "nosuch.wild.test:" + lport, wantStatus: 403, wantReason: "resolving nosuch.wild.test failed"},
		{name: "bad target", target: "allowed.test", wantStatus: 400, wantReason: "bad host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, reason, line := f.connect(t, tt.target)
			if status != tt.wantStatus {
				t.Fatalf("CONNECT %s = %d (%s), want %d", tt.target, status, reason, tt.wantStatus)
			}
			if tt.wantStatus == 200 && line != "echo ping\n" {
				t.Errorf("CONNECT %s tunnel echoed %q, want %q", tt.target, line, "echo ping\n")
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("CONNECT %s denial = %q, want it to contain %q", tt.target, reason, tt.wantReason)
			}
		})
	}
	if n := canaryHits.get(); n != 0 {
		t.Errorf("canary listener on host loopback got %d connections, want 0", n)
	}
	if n := legitHits.get(); n != 3 {
		t.Errorf("legitimate listener got %d connections, want 3", n)
	}
	for _, d := range f.dial.Dials() {
		if !strings.HasPrefix(d, "127.0.0.2:") {
			t.Errorf("proxy dialled %s; only the checked address 127.0.0.2 may be dialled", d)
		}
	}
	evs := f.rec.all()
	if len(evs) != len(tests) {
		t.Fatalf("got %d events, want one per connection (%d)", len(evs), len(tests))
	}
	for _, e := range evs {
		if e.Server != "srv" || e.Cause != "tools/call fetch#7" || e.Method != "CONNECT" {
			t.Errorf("event %+v: want server srv, cause tools/call fetch#7, method CONNECT", e)
		}
		if e.Allowed == (e.Reason != "") {
			t.Errorf("event %+v: Allowed and Reason disagree", e)
		}
	}
}

func TestConnectRebinding(t *testing.T) {
	legit := listen(t, "127.0.0.2:0")
	echo(legit)
	_, lport, _ := net.SplitHostPort(legit.Addr().String())
	// The first answer is allowed, every later one is loopback: a proxy
	// that resolved again before dialling would connect to 127.0.0.1.
	f := newFixture(t, []string{"rebind.test:*"}, []string{"127.0.0.2/32"}, map[string]string{"rebind.test": "127.0.0.2|127.0.0.1"})
	if status, reason, _ := f.connect(t, "rebind.test:"+lport); status != 200 {
		t.Fatalf("first CONNECT = %d (%s), want 200", status, reason)
	}
	if got := f.dial.Dials(); len(got) != 1 || got[0] != "127.0.0.2:"+lport {
		t.Errorf("dials = %v, want exactly [127.0.0.2:%s]", got, lport)
	}
	if status, reason, _ := f.connect(t, "rebind.test:"+lport); status != 403 || !strings.Contains(reason, "loopback") {
		t.Errorf("CONNECT after rebinding = %d (%s), want 403 loopback", status, reason)
	}
	if n := f.res.calls["rebind.test"]; n != 2 {
		t.Errorf("resolver called %d times for 2 connections, want 2 (one per connection)", n)
	}
}

func TestForward(t *testing.T) {
	up := listen(t, "127.0.0.2:0")
	_, uport, _ := net.SplitHostPort(up.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello via %s", r.Host) })
	mux.HandleFunc("/redirect-out", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://private.test/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-in", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	go http.Serve(up, mux)

	f := newFixture(t, []string{"allowed.test:" + uport, "private.test"}, []string{"127.0.0.2/32"},
		map[string]string{"allowed.test": "127.0.0.2", "private.test": "10.1.2.3"})
	f.proxy.SetCause("call-1")
	pu, _ := url.Parse("http://" + f.addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}

	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantBody   string
	}{
		{name: "allowed", url: "http://allowed.test:" + uport + "/hello?token=secret", wantStatus: 200, wantBody: "hello via allowed.test:" + uport},
		{name: "same-host redirect followed", url: "http://allowed.test:" + uport + "/redirect-in", wantStatus: 200, wantBody: "hello via"},
		{name: "redirect to private address refused", url: "http://allowed.test:" + uport + "/redirect-out", wantStatus: 403, wantBody: "redirect to http://private.test/ denied: 10.1.2.3 is a private address"},
		{name: "not allowlisted", url: "http://elsewhere.test/", wantStatus: 403, wantBody: "not in the egress allowlist"},
		{name: "private", url: "http://private.test/", wantStatus: 403, wantBody: "private address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.url, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	var redirectDenied bool
	for _, e := range f.rec.all() {
		if strings.Contains(e.URL, "token") {
			t.Errorf("event URL %q carries the query string", e.URL)
		}
		if e.Redirect == "http://private.test/" && !e.Allowed && e.Cause == "call-1" {
			redirectDenied = true
		}
	}
	if !redirectDenied {
		t.Errorf("no denied-redirect event in %+v", f.rec.all())
	}
	for _, d := range f.dial.Dials() {
		if !strings.HasPrefix(d, "127.0.0.2:") {
			t.Errorf("proxy dialled %s, want only 127.0.0.2", d)
		}
	}
}

func TestNotAProxyRequest(t *testing.T) {
	f := newFixture(t, []string{"*:*"}, nil, nil)
	for _, target := range []string{"/", "https://allowed.test/"} {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 {
			t.Errorf("GET %s = %d, want 400", target, resp.StatusCode)
		}
	}
	if d := f.dial.Dials(); len(d) != 0 {
		t.Errorf("dials = %v, want none", d)
	}
}

func TestCloseCutsTunnels(t *testing.T) {
	up := listen(t, "127.0.0.2:0")
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open until the test ends
		}
	}()
	_, uport, _ := net.SplitHostPort(up.Addr().String())
	f := newFixture(t, []string{"allowed.test:*"}, []string{"127.0.0.2/32"}, map[string]string{"allowed.test": "127.0.0.2"})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT allowed.test:%s HTTP/1.1\r\nHost: allowed.test\r\n\r\n", uport)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT = %v, %v", resp, err)
	}
	f.proxy.Close()
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("tunnel still open after Close")
	}
}
