package gateway

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// flightTable tracks calls in flight to each backend, so that a
// server-to-client request can be routed to the call that caused it, and
// maps rewritten progress tokens back to their call.
type flightTable struct {
	mu       sync.Mutex
	next     uint64
	byServer map[*backend]map[uint64]*flight
	progress map[string]*flight
}

func (t *flightTable) add(f *flight) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	f.id = t.next
	if t.byServer == nil {
		t.byServer = make(map[*backend]map[uint64]*flight)
		t.progress = make(map[string]*flight)
	}
	m := t.byServer[f.b]
	if m == nil {
		m = make(map[uint64]*flight)
		t.byServer[f.b] = m
	}
	m[f.id] = f
}

func (t *flightTable) remove(f *flight) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byServer[f.b], f.id)
	if f.upToken != "" {
		delete(t.progress, f.upToken)
	}
}

func (t *flightTable) setProgress(token string, f *flight) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.progress[token] = f
}

func (t *flightTable) byProgress(token string) *flight {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progress[token]
}

// on returns the calls in flight to b.
func (t *flightTable) on(b *backend) []*flight {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*flight, 0, len(t.byServer[b]))
	for _, f := range t.byServer[b] {
		out = append(out, f)
	}
	return out
}

// parked is a multi round-trip exchange waiting for the client's retry:
// either an input_required result from a 2026-07-28 server passed through
// (state holds the server's requestState), or a live upstream call whose
// server-to-client requests were turned into input requests.
type parked struct {
	b       *backend
	method  string
	name    string // upstream tool or prompt name, or resource URI
	session string // downstream session that may resume it
	caller  string // downstream caller subject that may resume it
	state   string // pass-through upstream requestState
	live    *flight
	waiting map[string]*exchange // live: input requests by key
	timer   *time.Timer
}

// pendingTable holds parked exchanges by the opaque token given to the
// client as requestState. Tokens are random, single use and expire.
type pendingTable struct {
	mu sync.Mutex
	m  map[string]*parked
}

func (t *pendingTable) put(p *parked, ttl time.Duration) string {
	tok := "mcpw1." + rand.Text()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*parked)
	}
	t.m[tok] = p
	p.timer = time.AfterFunc(ttl, func() {
		if q := t.take(tok); q != nil {
			q.abandon("the client did not answer the input request in time")
		}
	})
	return tok
}

func (t *pendingTable) take(tok string) *parked {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[tok]
	delete(t.m, tok)
	if p != nil && p.timer != nil {
		p.timer.Stop()
	}
	return p
}

func (t *pendingTable) closeAll() {
	t.mu.Lock()
	all := t.m
	t.m = nil
	t.mu.Unlock()
	for _, p := range all {
		p.timer.Stop()
		p.abandon("the gateway is shutting down")
	}
}

func (p *parked) abandon(reason string) {
	for _, ex := range p.waiting {
		ex.fail(reason)
	}
	if p.live != nil {
		p.live.finish()
	}
}

// sessionTable gives every downstream session an ID for logs and audit:
// HTTP sessions have one already, stdio sessions do not.
type sessionTable struct {
	mu  sync.Mutex
	ids map[*mcp.ServerSession]string
}

func (t *sessionTable) id(ss *mcp.ServerSession) string {
	if ss == nil {
		return ""
	}
	if id := ss.ID(); id != "" {
		return id
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = make(map[*mcp.ServerSession]string)
	}
	id, ok := t.ids[ss]
	if !ok {
		id = "local-" + rand.Text()[:16]
		t.ids[ss] = id
		go func() { _ = ss.Wait(); t.forget(ss) }()
	}
	return id
}

func (t *sessionTable) forget(ss *mcp.ServerSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.ids, ss)
}

// subscriptions records which backend owns each resource URI (first
// lister wins, in configuration order of arrival) and counts downstream
// subscriptions so each URI is subscribed upstream once.
type subscriptions struct {
	mu     sync.Mutex
	owner  map[string]string
	counts map[string]int
}

func (s *subscriptions) claim(uri, server string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner == nil {
		s.owner = make(map[string]string)
	}
	if o, ok := s.owner[uri]; ok && o != server {
		return o, false
	}
	s.owner[uri] = server
	return server, true
}

func (s *subscriptions) release(uri, server string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner[uri] == server {
		delete(s.owner, uri)
	}
}

func (s *subscriptions) ownerOf(uri string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.owner[uri]
	return o, ok
}

// inc and dec count subscribers of uri and report whether this was the
// first subscription or the last unsubscription.
func (s *subscriptions) inc(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = make(map[string]int)
	}
	s.counts[uri]++
	return s.counts[uri] == 1
}

func (s *subscriptions) dec(uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[uri] == 0 {
		return false
	}
	s.counts[uri]--
	if s.counts[uri] == 0 {
		delete(s.counts, uri)
		return true
	}
	return false
}
