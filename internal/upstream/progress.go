package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ProgressCounter restores the order between a server's progress
// notifications and the response they precede.
//
// The go-sdk hands a response to the waiting caller as soon as it is read,
// but queues notifications for a handler goroutine, so a call can return
// before the progress notifications the server sent ahead of its result
// have been relayed. The counter sees progress notifications as bytes on
// the wire, before the SDK parses them; the gateway marks each one handled
// after relaying it, and calls [ProgressCounter.Settle] before returning a
// result, so every notification the server sent first is relayed first.
type ProgressCounter struct {
	read    atomic.Int64
	handled atomic.Int64
	mu      sync.Mutex
	wake    chan struct{}
}

func newProgressCounter() *ProgressCounter { return &ProgressCounter{wake: make(chan struct{})} }

// Handled records that one progress notification has been dealt with.
func (p *ProgressCounter) Handled() {
	if p == nil {
		return
	}
	p.handled.Add(1)
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// Settle waits until every progress notification read so far has been
// handled, for at most max: a notification the SDK drops without handing
// it on must not stall calls.
func (p *ProgressCounter) Settle(ctx context.Context, max time.Duration) {
	if p == nil {
		return
	}
	target := p.read.Load()
	if p.handled.Load() >= target {
		return
	}
	t := time.NewTimer(max)
	defer t.Stop()
	for p.handled.Load() < target {
		p.mu.Lock()
		wake := p.wake
		p.mu.Unlock()
		if p.handled.Load() >= target {
			return
		}
		select {
		case <-wake:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

var progressMethod = []byte(`"notifications/progress"`)

// scanLine counts line if it is a progress notification (a JSON-RPC
// message, or an SSE data line holding one).
func (p *ProgressCounter) scanLine(line []byte) {
	if !bytes.Contains(line, progressMethod) {
		return
	}
	line = bytes.TrimPrefix(bytes.TrimSpace(line), []byte("data:"))
	var m struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &m) == nil && m.Method == "notifications/progress" && m.ID == nil {
		p.read.Add(1)
	}
}

// countingTransport counts progress notifications in HTTP response bodies
// (JSON or SSE streams).
type countingTransport struct {
	base http.RoundTripper
	p    *ProgressCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{&filterReader{r: resp.Body, progress: t.p, pooled: true}, resp.Body}
	return resp, nil
}
