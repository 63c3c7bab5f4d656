package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"mcpwarden/internal/config"
	"mcpwarden/internal/pipeline"
)

// TestFastPath drives a stdio client against a 2025-era stdio server, the
// combination the fast path serves, and checks that plain calls take it
// and behave as on the ordinary path: results, server-to-client requests
// during the call, denials, timeouts, cancellation and a server crash.
func TestFastPath(t *testing.T) {
	s := stdioServer("std")
	s.ProtocolVersion = "2025-11-25"
	g := startGateway(t, pipeline.NewChain(denyTool{}), s)
	p := newStdioPeer(t, g)
	p.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"raw","version":"1"}}}`)
	p.recv()
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	call := func(id int, name string, args string) map[string]any {
		p.send(`{"jsonrpc":"2.0","id":` + itoa(id) + `,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`)
		for {
			m := p.recv()
			if m["method"] == "sampling/createMessage" {
				// The server asked this client, during the call.
				p.send(`{"jsonrpc":"2.0","id":` + string(mustJSON(m["id"])) + `,"result":{"role":"assistant","model":"m","content":{"type":"text","text":"sampled"}}}`)
				continue
			}
			if m["id"] == float64(id) {
				return m
			}
		}
	}
	text := func(m map[string]any) string {
		b, _ := json.Marshal(m["result"])
		return string(b)
	}

	before := g.fastCalls.Load()
	if m := call(10, "std__add", `{"a":2,"b":3}`); !strings.Contains(text(m), "denied") {
		t.Errorf("denied add = %v", m)
	}
	if m := call(11, "std__echo", `{"text":"plain"}`); !strings.Contains(text(m), "rewritten") {
		t.Errorf("echo (rewritten by the chain) = %v", m)
	}
	if m := call(12, "std__sample", `{"prompt":"hi"}`); !strings.Contains(text(m), "model said: sampled") {
		t.Errorf("sampling during a fast-path call = %v", m)
	}
	if got := g.fastCalls.Load() - before; got != 3 {
		t.Errorf("fast-path calls = %d, want 3", got)
	}

	// Cancellation: the client gets no answer; the next call works.
	p.send(`{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"std__slow","arguments":{"ms":10000}}}`)
	time.Sleep(100 * time.Millisecond)
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":20}}`)
	if m := call(21, "std__slow", `{"ms":1}`); !strings.Contains(text(m), "slept") {
		t.Errorf("call after a cancellation = %v", m)
	}

	// A crash fails the call in flight with an error naming the server.
	if m := call(30, "std__crash", `{}`); !strings.Contains(text(m), `upstream server \"std\"`) {
		t.Errorf("crash = %v", m)
	}
	waitFor(t, func() bool { st := g.Statuses()[0]; return st.Up && st.Restarts > 0 }, "restart")
	if m := call(31, "std__slow", `{"ms":1}`); !strings.Contains(text(m), "slept") {
		t.Errorf("call after the restart = %v", m)
	}
}

func itoa(i int) string { return strings.TrimSpace(string(mustJSON(i))) }

// TestFastPathTimeout bounds a fast-path call the server never answers.
func TestFastPathTimeout(t *testing.T) {
	s := stdioServer("std")
	s.ProtocolVersion = "2025-11-25"
	s.CallTimeout = config.Duration(200 * time.Millisecond)
	g := startGateway(t, nil, s)
	p := newStdioPeer(t, g)
	p.send(initLine)
	p.recv()
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"std__slow","arguments":{"ms":5000}}}`)
	m := p.recv()
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), "did not answer within 200ms") || g.fastCalls.Load() != 1 {
		t.Errorf("slow fast-path call = %s (fast calls %d)", b, g.fastCalls.Load())
	}
}

// TestFastPathTakes checks which lines the fast path serves from their
// bytes alone and which it leaves to the ordinary path, and that either
// way the client gets the same answer. Lines that JSON libraries read
// differently (a duplicate name, an escaped key) must not be forwarded
// as read by the fast path's scanner.
func TestFastPathTakes(t *testing.T) {
	s := stdioServer("std")
	s.ProtocolVersion = "2025-11-25"
	g := startGateway(t, nil, s)
	p := newStdioPeer(t, g)
	p.send(initLine)
	p.recv()
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for i, tc := range []struct {
		params string
		id     string
		fast   bool
		want   string
	}{
		{`{"name":"std__echo","arguments":{"text":"plain"}}`, `1`, true, `plain`},
		{` { "arguments" : {"text":"spaced"} , "name" : "std__echo" } `, `2`, true, `spaced`},
		{`{"name":"std__echo","arguments":{"text":"str id"}}`, `"req-3"`, true, `str id`},
		{`{"name":"std__echo","arguments":{"text":"esc \" \\ \u00e9"}}`, `4`, true, `esc \" \\ é`},
		{`{"name":"std__echo","arguments":{"text":"meta"},"_meta":{"progressToken":"p"}}`, `5`, false, `meta`},
		// The ordinary path decodes once, so the chain and the server see
		// the same name (the last).
		{`{"name":"std__echo","name":"std__add","arguments":{"text":"dup"}}`, `6`, false, `"text":"0"`},
		{`{"n\u0061me":"std__echo","arguments":{"text":"escaped key"}}`, `7`, false, `escaped key`},
		{`{"name":"std__echo","arguments":{"text":"float id"}}`, `8.0`, false, `float id`},
		{`{"name":"std__nope","arguments":{}}`, `9`, false, `unknown tool`},
		// A bare CR would end the line early for many stdio servers.
		{"{\"name\":\"std__echo\",\r\"arguments\":{\"text\":\"cr\"}}", `10`, false, `cr`},
	} {
		before := g.fastCalls.Load()
		p.send(`{"jsonrpc":"2.0","id":` + tc.id + `,"method":"tools/call","params":` + tc.params + `}`)
		m := p.recv()
		got, _ := json.Marshal(m)
		if fast := g.fastCalls.Load() > before; fast != tc.fast {
			t.Errorf("case %d: fast path = %v, want %v", i, fast, tc.fast)
		}
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("case %d: answer %s, want %q in it", i, got, tc.want)
		}
		if string(mustJSON(m["id"])) != strings.ReplaceAll(tc.id, ".0", "") {
			t.Errorf("case %d: answer id %v, want %s", i, m["id"], tc.id)
		}
	}
}

// FuzzPlainID checks that the IDs the fast path takes from the wire are
// exactly the JSON-RPC IDs they decode to, so the answer and a later
// cancellation name the same request.
func FuzzPlainID(f *testing.F) {
	for _, s := range []string{`1`, `-7`, `0`, `007`, `1.0`, `1e3`, `"a"`, `"a\"b"`, `"é"`, `123456789012345`, `1234567890123456`, `null`, `-`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, ok := plainID(raw)
		if !ok {
			return
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("plainID took %q, which is not JSON: %v", raw, err)
		}
		want, err := jsonrpc.MakeID(v)
		if err != nil || want != id {
			t.Fatalf("plainID(%q) = %v, the wire value decodes to %v (%v)", raw, id, want, err)
		}
		if got := string(mustJSON(id.Raw())); got != string(raw) && !strings.ContainsAny(got, `\<>&`) {
			t.Fatalf("plainID(%q) re-encodes as %s: a cancellation naming it would not match", raw, got)
		}
	})
}

// TestFastPath26 covers the fast path towards a 2026-07-28 server from a
// 2025-era client: calls carry the go-sdk session's per-request _meta,
// and a server that asks for input (multi round trip) is answered by
// asking this client with a server-to-client request, as on the ordinary
// path.
func TestFastPath26(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std")) // negotiates 2026-07-28
	if got := g.Statuses()[0].Protocol; got != "2026-07-28" {
		t.Fatalf("server protocol = %s, want 2026-07-28", got)
	}
	p := newStdioPeer(t, g)
	p.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"raw","version":"1"}}}`)
	p.recv()
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	before := g.fastCalls.Load()

	p.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"std__echo","arguments":{"text":"to 2026"}}}`)
	m := p.recv()
	if b, _ := json.Marshal(m); !strings.Contains(string(b), "to 2026") || m["id"] != float64(2) {
		t.Fatalf("echo = %s", b)
	}

	p.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"std__roots","arguments":{}}}`)
	for {
		m := p.recv()
		if m["method"] == "roots/list" {
			p.send(`{"jsonrpc":"2.0","id":` + string(mustJSON(m["id"])) + `,"result":{"roots":[{"uri":"file:///tmp/fast-root","name":"r"}]}}`)
			continue
		}
		b, _ := json.Marshal(m)
		if m["id"] != float64(3) || !strings.Contains(string(b), "file:///tmp/fast-root") {
			t.Fatalf("roots through a multi round trip = %s", b)
		}
		break
	}
	if got := g.fastCalls.Load() - before; got != 2 {
		t.Errorf("fast-path calls = %d, want 2", got)
	}
}
