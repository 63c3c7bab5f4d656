package gateway

import (
	"bufio"
	"runtime"

	"bytes"
	"context"
	"encoding/json"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// stdioPeer drives ServeStdio over pipes with raw lines, as a hostile or
// buggy client would.
type stdioPeer struct {
	in  *io.PipeWriter
	out *bufio.Reader
	t   *testing.T
}

func newStdioPeer(t *testing.T, g *Gateway) *stdioPeer {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- g.ServeStdio(context.Background(), inR, outW); outW.Close() }()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("ServeStdio did not return after stdin closed")
		}
	})
	return &stdioPeer{in: inW, out: bufio.NewReaderSize(outR, 1<<20), t: t}
}

func (p *stdioPeer) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *stdioPeer) recv() map[string]any {
	p.t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() { l, err := p.out.ReadString('\n'); ch <- res{l, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			p.t.Fatalf("reading response: %v", r.err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.line), &m); err != nil {
			p.t.Fatalf("response %q is not JSON: %v", r.line, err)
		}
		return m
	case <-time.After(10 * time.Second):
		p.t.Fatal("no response")
		return nil
	}
}

func errCode(m map[string]any) int {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

const initLine = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// TestStdioBadInput sends every kind of bad message over stdio: each gets
// the right JSON-RPC error and the session keeps working afterwards.
func TestStdioBadInput(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	p := newStdioPeer(t, g)

	p.send(`{"jsonrpc":"2.0","id":0,"method":"tools/list"}`)
	if m := p.recv(); errCode(m) != codeInvalidRequest {
		t.Errorf("request before initialize = %v, want invalid request (%d)", m, codeInvalidRequest)
	}
	p.send(initLine)
	if m := p.recv(); m["result"] == nil {
		t.Fatalf("initialize = %v", m)
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	tests := []struct {
		name string
		line string
		code int
		id   any
	}{
		{"malformed JSON", `{"jsonrpc":"2.0","id":2,"method":`, codeParseError, nil},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}", codeParseError, nil},
		{"not JSON-RPC", `{"hello":"world","id":4}`, codeInvalidRequest, 4.0},
		{"a bare number", `42`, codeInvalidRequest, nil},
		{"a batch", `[{"jsonrpc":"2.0","id":5,"method":"ping"}]`, codeInvalidRequest, nil},
		{"unknown method", `{"jsonrpc":"2.0","id":6,"method":"no/such"}`, -32601, 6.0},
		{"oversized", `{"jsonrpc":"2.0","id":7,"method":"ping","params":{"pad":"` + strings.Repeat("x", 5<<20) + `"}}`, codeMessageTooLarge, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.send(tt.line)
			m := p.recv()
			if got := errCode(m); got != tt.code {
				t.Errorf("%s: error code %d (%v), want %d", tt.name, got, m, tt.code)
			}
			if m["id"] != tt.id {
				t.Errorf("%s: id %v, want %v", tt.name, m["id"], tt.id)
			}
			// The session survives.
			p.send(`{"jsonrpc":"2.0","id":100,"method":"ping"}`)
			if m := p.recv(); m["result"] == nil || m["id"] != 100.0 {
				t.Fatalf("ping after %s = %v, want a result", tt.name, m)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		in      string
		limit   int
		want    []string
		tooBigs int
	}{
		{in: "a\nbb\r\n  c  \n", limit: 10, want: []string{"a", "bb", "c"}},
		{in: "short\n" + strings.Repeat("y", 100) + "\nafter\n", limit: 20, want: []string{"short", "", "after"}, tooBigs: 1},
		{in: "exactly10!\n", limit: 10, want: []string{"exactly10!"}},
		{in: "eleven1234!\n", limit: 10, want: []string{""}, tooBigs: 1},
		{in: "no newline at end", limit: 100, want: []string{"no newline at end"}},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
		var got []string
		big := 0
		for {
			line, tooLarge, err := readFrame(br, tt.limit)
			if tooLarge {
				big++
			}
			if len(line) > 0 || tooLarge {
				got = append(got, string(line))
			}
			if err != nil {
				break
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || big != tt.tooBigs {
			t.Errorf("readFrame(%.30q, %d) = %q (%d too large), want %q (%d)", tt.in, tt.limit, got, big, tt.want, tt.tooBigs)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		initLine, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, `{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":1,"ID":2,"method":"ping"}`, `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\x00ing\"}", `[]`, `[1,2]`, `null`, `{"id":{"a":1}}`,
		"\xef\xbb\xbf{\"jsonrpc\":\"2.0\"}", `{"jsonrpc":"1.0","id":1,"method":"ping"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		br := bufio.NewReader(bytes.NewReader(line))
		fr, tooLarge, _ := readFrame(br, 1024)
		if len(fr) > 1024 {
			t.Fatalf("readFrame returned %d bytes over a 1024 limit", len(fr))
		}
		msg, id, code, reason := decodeFrame(frame{line: fr, tooLarge: tooLarge}, 1024)
		if msg == nil && (code == 0 || reason == "") && len(fr) > 0 {
			t.Fatalf("decodeFrame(%q) gave neither a message nor an error", fr)
		}
		if id != nil && !validID(id) {
			t.Fatalf("decodeFrame(%q) echoes invalid id %s", fr, id)
		}
	})
}

// TestHTTPBadInput checks the HTTP listener's answers to bad requests.
func TestHTTPBadInput(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	ts := httptest.NewServer(g.Handler(HTTPOptions{Loopback: true}))
	defer ts.Close()
	post := func(body string, hdr map[string]string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", ts.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp, m
	}
	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   int
	}{
		{"malformed JSON", `{"jsonrpc":`, nil, 400, codeParseError},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\xff\"}", nil, 400, codeParseError},
		{"oversized", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"` + strings.Repeat("z", 5<<20) + `"}}`, nil, 413, codeMessageTooLarge},
		{"foreign origin", initLine, map[string]string{"Origin": "https://evil.example"}, 403, codeForbidden},
		{"rebinding host", initLine, map[string]string{"Host": "evil.example"}, 403, 0},
		{"wrong content type", initLine, map[string]string{"Content-Type": "text/plain"}, 415, 0},
		{"unknown session", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Mcp-Session-Id": "nope"}, 404, 0},
		{"request before initialize", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil, 400, codeInvalidRequest},
		{"unsupported version header", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"MCP-Protocol-Version": "1999-01-01"}, 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, m := post(tt.body, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.code != 0 && errCode(m) != tt.code {
				t.Errorf("JSON-RPC code = %d (%v), want %d", errCode(m), m, tt.code)
			}
		})
	}
	t.Run("local origin allowed", func(t *testing.T) {
		resp, _ := post(initLine, map[string]string{"Origin": "http://localhost:6274"})
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200 for a loopback origin on a loopback listener", resp.StatusCode)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h struct {
			Status  string
			Servers []Status
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 || h.Status != "ok" || len(h.Servers) != 1 || !h.Servers[0].Up {
			t.Errorf("healthz = %d %+v %v", resp.StatusCode, h, err)
		}
	})
}

// TestNoGoroutineLeak opens and closes many sessions, over stdio with bad
// input and over HTTP, and checks the gateway's goroutines return to their
// baseline.
func TestNoGoroutineLeak(t *testing.T) {
	g := startGateway(t, nil, stdioServer("std"))
	ts := httptest.NewServer(g.Handler(HTTPOptions{Loopback: true}))
	defer ts.Close()
	settle := func() int {
		var n int
		for range 50 {
			runtime.GC()
			n = runtime.NumGoroutine()
			time.Sleep(20 * time.Millisecond)
			if m := runtime.NumGoroutine(); m == n {
				break
			}
		}
		return n
	}
	// One session first, so lazily started goroutines are in the baseline.
	func() {
		p := newStdioPeer(t, g)
		p.send(initLine)
		p.recv()
	}()
	base := settle()
	for i := range 20 {
		p := newStdioPeer(t, g)
		p.send(initLine)
		p.recv()
		p.send(`{"jsonrpc":"2.0","id":2,"method":`)
		p.recv()
		p.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"std__echo","arguments":{"text":"x"}}}`)
		p.recv()
		p.in.Close()

		hc := &http.Client{Transport: &http.Transport{}}
		c := mcp.NewClient(&mcp.Implementation{Name: "leak", Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: revisions[i%2]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "std__echo", Arguments: map[string]any{"text": "y"}}); err != nil {
			t.Fatal(err)
		}
		cs.Close()
		hc.CloseIdleConnections()
	}
	ts.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for settle() > base+4 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
