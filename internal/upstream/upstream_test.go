package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"mcpwarden/internal/coalesce"
	"mcpwarden/internal/secretref"
)

func TestExpandSecrets(t *testing.T) {
	secrets, err := secretref.ResolveAll(context.Background(), map[string]secretref.Ref{"TOKEN": {Env: "T"}}, secretref.Options{Lookup: func(k string) (string, bool) { return "s3cret", k == "T" }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want, err string
	}{
		{in: "Bearer ${secret:TOKEN}", want: "Bearer s3cret"},
		{in: "plain", want: "plain"},
		{in: "${secret:TOKEN}-${secret:TOKEN}", want: "s3cret-s3cret"},
		{in: "${secret:NOPE}", err: "names no secret"},
		{in: "${secret:TOKEN", err: "unterminated"},
	}
	for _, tt := range tests {
		got, err := expandSecrets(tt.in, secrets)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandSecrets(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expandSecrets(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestProgressCounting checks that progress notifications are counted on
// the wire whatever the read boundaries, and nothing else is.
func TestProgressCounting(t *testing.T) {
	stream := strings.Join([]string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"a","progress":1}}`,
		`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"notifications/progress is a word"}]}}`,
		`data: {"method":"notifications/progress","params":{"progressToken":"b","progress":2},"jsonrpc":"2.0"}`,
		`{"jsonrpc":"2.0","id":4,"method":"notifications/progress"}`,
		`{"jsonrpc":"2.0","method":"notifications/message","params":{}}`,
		`{"method":"notifications/progress","params":{"progressToken":"c"}}`,
	}, "\n") + "\n"
	for _, r := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", strings.NewReader(stream)},
		{"byte by byte", iotest.OneByteReader(strings.NewReader(stream))},
		{"halves", iotest.HalfReader(strings.NewReader(stream))},
	} {
		p := newProgressCounter()
		out, err := io.ReadAll(&filterReader{r: r.r, progress: p})
		if err != nil || !bytes.Equal(out, []byte(stream)) {
			t.Fatalf("%s: the reader changed the stream (%v)", r.name, err)
		}
		if got := p.read.Load(); got != 3 {
			t.Errorf("%s: counted %d progress notifications, want 3", r.name, got)
		}
	}
}

func TestSettle(t *testing.T) {
	p := newProgressCounter()
	p.read.Store(2)
	done := make(chan struct{})
	go func() { p.Settle(context.Background(), 5*time.Second); close(done) }()
	p.Handled()
	select {
	case <-done:
		t.Fatal("Settle returned before every notification was handled")
	case <-time.After(20 * time.Millisecond):
	}
	p.Handled()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Settle did not return once every notification was handled")
	}
	// A notification that is never handled must not stall calls.
	p.read.Add(1)
	start := time.Now()
	p.Settle(context.Background(), 30*time.Millisecond)
	if time.Since(start) > 2*time.Second {
		t.Error("Settle waited past its bound")
	}
}

func FuzzFilterReader(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{}}` + "\n"))
	f.Add([]byte("data: {\"method\":\"notifications/progress\"}\r\n\n"))
	f.Add([]byte(strings.Repeat("x", 5000) + "notifications/progress\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := newProgressCounter()
		out, err := io.ReadAll(&filterReader{r: iotest.HalfReader(bytes.NewReader(data)), progress: p})
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("the reader changed the stream")
		}
		if n := p.read.Load(); n > int64(bytes.Count(data, []byte("notifications/progress"))) {
			t.Fatalf("counted %d, more than the occurrences", n)
		}
	})
}

func TestLookPathUsesServerPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := lookPath("definitely-not-a-command", []string{"PATH=" + dir}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("lookPath on the server's PATH = %v, want a not-found error naming that PATH", err)
	}
	if got, err := lookPath("sh", []string{"PATH=/usr/bin:/bin"}); err != nil || !strings.HasSuffix(got, "/sh") {
		t.Errorf("lookPath(sh) = %q, %v", got, err)
	}
}

// TestFilterReader checks the stdout filter: every line but the raw
// path's responses passes, whole, whatever the read boundaries; raw
// responses reach their caller.
func TestFilterReader(t *testing.T) {
	lines := []string{
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"a","progress":1}}`,
		`{"jsonrpc":"2.0","id":"mcpw-raw-1","result":{"content":[]}}`,
		`{"jsonrpc":"2.0","id":7,"result":{"text":"mcpw-raw-1 is just text here"}}`,
		`{"jsonrpc":"2.0","id":"mcpw-raw-2","error":{"code":-32602,"message":"unknown tool"}}`,
		`{"jsonrpc":"2.0","id":"mcpw-raw-9","method":"sampling/createMessage","params":{}}`,
	}
	stream := strings.Join(lines, "\n") + "\nlast line without newline"
	want := lines[0] + "\n" + lines[2] + "\n" + lines[4] + "\nlast line without newline"
	for _, mk := range []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.OneByteReader,
		iotest.HalfReader,
	} {
		raw := newRawPath(coalesce.New(io.Discard))
		ch1, ch2 := make(chan RawResponse, 1), make(chan RawResponse, 1)
		raw.pending["mcpw-raw-1"], raw.pending["mcpw-raw-2"] = ch1, ch2
		p := newProgressCounter()
		out, err := io.ReadAll(&filterReader{r: mk(strings.NewReader(stream)), progress: p, raw: raw})
		if err != nil || string(out) != want {
			t.Fatalf("filtered stream = %q, %v\nwant %q", out, err, want)
		}
		if r := <-ch1; string(r.Result) != `{"content":[]}` {
			t.Errorf("raw response 1 = %+v", r)
		}
		if r := <-ch2; !strings.Contains(string(r.Error), "unknown tool") {
			t.Errorf("raw response 2 = %+v", r)
		}
		if p.read.Load() != 1 {
			t.Errorf("progress counted %d, want 1", p.read.Load())
		}
		if _, err := raw.Call(context.Background(), time.Minute, "tools/call", nil); err != ErrRawClosed {
			t.Errorf("Call after the stream ended = %v, want ErrRawClosed", err)
		}
	}
}

// TestRawCallTimeout checks the request line the raw path writes, and
// that a call nobody answers ends at its timeout with the server told.
func TestRawCallTimeout(t *testing.T) {
	var out bytes.Buffer
	raw := newRawPath(coalesce.New(&out))
	_, err := raw.Call(context.Background(), 20*time.Millisecond, "tools/call", json.RawMessage(`{"name":"echo","arguments":{"text":"a\"b"}}`))
	if !errors.Is(err, ErrRawTimeout) {
		t.Fatalf("err = %v, want ErrRawTimeout", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("wrote %q, want the request and a cancellation", out.String())
	}
	var req struct {
		JSONRPC, ID, Method string
		Params              struct {
			Name      string
			Arguments map[string]string
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &req); err != nil || req.JSONRPC != "2.0" || req.Method != "tools/call" || req.Params.Arguments["text"] != `a"b` || !strings.HasPrefix(req.ID, rawIDPrefix) {
		t.Fatalf("request line %s (%v)", lines[0], err)
	}
	var cancel struct {
		Method string
		Params struct{ RequestID string }
	}
	if err := json.Unmarshal([]byte(lines[1]), &cancel); err != nil || cancel.Method != "notifications/cancelled" || cancel.Params.RequestID != req.ID {
		t.Fatalf("cancellation line %s (%v)", lines[1], err)
	}
	if len(raw.pending) != 0 {
		t.Errorf("%d requests still pending", len(raw.pending))
	}
}

// TestRawDeliverEdges: a null error is no error, and repeated answers to
// one request never block the server's output reader.
func TestRawDeliverEdges(t *testing.T) {
	raw := newRawPath(coalesce.New(io.Discard))
	ch := make(chan RawResponse, 1)
	raw.pending["mcpw-raw-1"] = ch
	line := []byte(`{"jsonrpc":"2.0","id":"mcpw-raw-1","result":{"content":[]},"error":null}`)
	done := make(chan struct{})
	go func() {
		for range 3 {
			raw.deliver(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("deliver blocked on a repeated answer")
	}
	r := <-ch
	if r.Error != nil || string(r.Result) != `{"content":[]}` {
		t.Errorf("response = result %s, error %s; want the result and no error", r.Result, r.Error)
	}
}

// TestLearnMeta takes the per-request _meta triple from the session's
// first request that carries it, and nothing else from it.
func TestLearnMeta(t *testing.T) {
	raw := newRawPath(coalesce.New(io.Discard))
	raw.learnMeta([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}` + "\n"))
	if raw.Meta() != nil {
		t.Fatalf("meta from a line without it: %s", raw.Meta())
	}
	raw.learnMeta([]byte(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/clientInfo":{"name":"mcpwarden","version":"1"}}}}` + "\n"))
	want := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcpwarden","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"sampling":{}}}`
	if got := string(raw.Meta()); got != want {
		t.Fatalf("meta = %s\nwant %s", got, want)
	}
	raw.learnMeta([]byte(`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"other","io.modelcontextprotocol/clientCapabilities":{}}}}`))
	if got := string(raw.Meta()); got != want {
		t.Errorf("meta changed to %s after it was learned", got)
	}
}
