package report

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances one second per reading.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// lockedBuffer is a bytes.Buffer safe for the spinner goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgress(t *testing.T) {
	var buf lockedBuffer
	clock := &fakeClock{t: time.Unix(0, 0)}
	p := NewProgress(&buf, ProgressOptions{Enabled: true, Total: 3, Now: clock.now, Interval: -1, Width: 80})
	p.Start("demo")
	p.Start("broken\x1b[2J")
	p.Done("demo", Scanned, "8 tools")
	p.Start("fs")
	p.Done("broken\x1b[2J", NotScanned, "timed out after 10s")
	p.Done("fs", Static, "")
	p.Close()
	p.Close()
	p.Start("late") // after Close: ignored
	out := buf.String()
	for _, want := range []string{
		"\r\x1b[K⠋ scanning · 0/3 done · waiting for demo",
		"\r\x1b[K⠋ scanning · 0/3 done · waiting for demo, broken⟨U+001B⟩[2J",
		"\r\x1b[K✓ demo  scanned · 8 tools (2s)\n",
		"✗ broken⟨U+001B⟩[2J  NOT SCANNED · timed out after 10s (3s)\n",
		"✓ fs  static (2s)\n",
		"waiting for broken⟨U+001B⟩[2J, fs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("progress output ends %q, want the status line erased after the last result", out[len(out)-10:])
	}
	if strings.Contains(out, "late") || strings.Contains(out, "\x1b[2J") {
		t.Errorf("progress wrote after Close or passed a raw escape: %q", out)
	}
}

func TestProgressDisabled(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, ProgressOptions{Color: true, Total: 2})
	p.Start("a")
	p.Done("a", Scanned, "1 tool")
	p.Close()
	if buf.Len() != 0 || p != nil {
		t.Errorf("disabled progress wrote %q", buf.String())
	}
}

func TestProgressConcurrent(t *testing.T) {
	var buf lockedBuffer
	p := NewProgress(&buf, ProgressOptions{Enabled: true, Interval: time.Millisecond, Width: 60})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("server-%02d", i)
			p.Start(name)
			p.Done(name, Scanned, "")
		}()
	}
	wg.Wait()
	p.Close()
	out := buf.String()
	if n := strings.Count(out, "✓ server-"); n != 16 {
		t.Errorf("progress reported %d servers done, want 16", n)
	}
	for _, line := range strings.Split(out, "\n") {
		for _, part := range strings.Split(line, "\r\x1b[K") {
			if w := displayWidth(part); w > 60 {
				t.Errorf("progress line is %d columns wide, want ≤ 60: %q", w, part)
			}
		}
	}
}
