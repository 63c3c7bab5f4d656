package coalesce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// countingWriter records the bytes and the number of Write calls.
type countingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
	block chan struct{} // when set, the first Write waits on it
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.block != nil {
		<-w.block
		w.block = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	return w.buf.Write(p)
}

// TestWholeLines has many goroutines write numbered lines: every line
// arrives whole, each goroutine's lines in order.
func TestWholeLines(t *testing.T) {
	var w countingWriter
	c := New(&w)
	const writers, lines = 16, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if err := c.WriteLine([]byte(fmt.Sprintf("%d %d %s", g, i, bytes.Repeat([]byte("x"), i%97)))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]int, writers)
	sc := bufio.NewScanner(&w.buf)
	n := 0
	for sc.Scan() {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %s", &g, &i, &pad); err != nil && i%97 != 0 {
			t.Fatalf("torn line %q: %v", sc.Text(), err)
		}
		if i != next[g] || len(pad) != i%97 {
			t.Fatalf("line %q out of order or torn (want %d from writer %d)", sc.Text(), next[g], g)
		}
		next[g]++
		n++
	}
	if n != writers*lines {
		t.Fatalf("%d lines, want %d", n, writers*lines)
	}
	t.Logf("%d lines in %d writes", n, w.calls)
}

// TestMerges holds the first write up while others queue: they go out in
// one write after it.
func TestMerges(t *testing.T) {
	w := countingWriter{block: make(chan struct{})}
	c := New(&w)
	first := make(chan error)
	go func() { first <- c.WriteLine([]byte("first")) }()
	// Wait until the first writer holds the queue.
	for {
		c.mu.Lock()
		busy := c.busy
		c.mu.Unlock()
		if busy {
			break
		}
	}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.WriteLine([]byte(fmt.Sprint("queued ", i))) }()
	}
	for {
		c.mu.Lock()
		queued := bytes.Count(c.pending, []byte("\n"))
		c.mu.Unlock()
		if queued == 5 {
			break
		}
	}
	close(w.block)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if w.calls != 2 {
		t.Errorf("%d writes, want 2 (the first, then the five queued together)", w.calls)
	}
	if got := bytes.Count(w.buf.Bytes(), []byte("\n")); got != 6 {
		t.Errorf("%d lines written, want 6", got)
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, io.ErrClosedPipe
	}
	f.n--
	return len(p), nil
}

func TestErrorSticks(t *testing.T) {
	c := New(&failingWriter{n: 1})
	if err := c.WriteLine([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.WriteLine([]byte("lost")); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("err = %v, want the pipe's error", err)
		}
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write err = %v", err)
	}
}

func BenchmarkWriteLine(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 200)
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprint("writers=", par), func(b *testing.B) {
			c := New(io.Discard)
			b.SetParallelism(par)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = c.WriteLine(line)
				}
			})
		})
	}
}

// TestOwnError: a writer that led is told only about its own batch; the
// writers whose batch failed get the error.
func TestOwnError(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{}), failFrom: 2}
	c := New(w)
	first := make(chan error)
	go func() { first <- c.WriteLine([]byte("first")) }()
	for !w.started() {
	}
	second := make(chan error)
	go func() { second <- c.WriteLine([]byte("second")) }()
	for {
		c.mu.Lock()
		queued := len(c.pending) > 0
		c.mu.Unlock()
		if queued {
			break
		}
	}
	close(w.gate)
	if err := <-first; err != nil {
		t.Errorf("first (written) = %v, want nil", err)
	}
	if err := <-second; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("second (its batch failed) = %v, want the error", err)
	}
	if err := c.WriteLine(nil); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("after the failure = %v, want the error", err)
	}
}

func TestEmptyWriteWhileBusy(t *testing.T) {
	w := &gateWriter{gate: make(chan struct{})}
	c := New(w)
	done := make(chan error)
	go func() { done <- c.WriteLine([]byte("x")) }()
	for !w.started() {
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v", n, err)
	}
	close(w.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// gateWriter holds its first write until gate is closed, and fails from
// write number failFrom (1-based; 0: never).
type gateWriter struct {
	mu       sync.Mutex
	n        int
	gate     chan struct{}
	failFrom int
}

func (g *gateWriter) started() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n > 0
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.n++
	n := g.n
	g.mu.Unlock()
	if n == 1 {
		<-g.gate
	}
	if g.failFrom > 0 && n >= g.failFrom {
		return 0, io.ErrClosedPipe
	}
	return len(p), nil
}
