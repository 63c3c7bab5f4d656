// Package coalesce provides a writer for message streams shared by many
// goroutines (a stdio pipe to a server or a client): each write lands
// whole, and the writes that queue up while one is in progress go out
// together in one system call. Under load that turns one write(2) per
// message into one per batch; a lone writer pays one copy and nothing
// else.
package coalesce

import (
	"io"
	"sync"
)

// maxSpare bounds the buffer kept between batches, so one huge message
// does not pin its size for the life of the stream.
const maxSpare = 1 << 20

// Writer serializes writes to an underlying writer and merges concurrent
// ones. Write returns once its bytes have been handed to the underlying
// writer (with the error of the write that carried them), so a slow
// reader slows writers down as it would without coalescing. After a
// failed write every later write fails with the same error.
type Writer struct {
	w io.Writer

	mu      sync.Mutex
	cond    sync.Cond
	pending []byte // queued for the next batch
	spare   []byte // the previous batch's buffer, for reuse
	busy    bool   // a writer is draining the queue
	taken   uint64 // batches taken off the queue
	written uint64 // batches written
	err     error
}

// New returns a Writer over w.
func New(w io.Writer) *Writer {
	c := &Writer{w: w}
	c.cond.L = &c.mu
	return c
}

// Write writes p whole, never interleaved with another Write.
func (c *Writer) Write(p []byte) (int, error) {
	if err := c.write(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteLine writes p and a newline, as one message.
func (c *Writer) WriteLine(p []byte) error { return c.write(p, true) }

// leadBatches bounds how many batches one writer writes for others after
// its own, so that a steady stream of writes cannot keep it from
// returning; it then hands the queue to a waiting writer.
const leadBatches = 4

func (c *Writer) write(p []byte, newline bool) error {
	if len(p) == 0 && !newline {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.pending = append(c.pending, p...)
	if newline {
		c.pending = append(c.pending, '\n')
	}
	mine := c.taken // the batch that will carry p
	for c.busy && c.written <= mine {
		c.cond.Wait()
	}
	switch {
	case c.written > mine:
		return nil // another writer wrote it
	case c.err != nil:
		return c.err // its batch failed, or one before it and p was dropped
	}
	// Lead: write the queue, p's batch first.
	c.busy = true
	defer func() {
		c.busy = false
		c.cond.Broadcast()
	}()
	for n := 0; len(c.pending) > 0 && n <= leadBatches; n++ {
		out := c.pending
		c.pending = c.spare[:0]
		batch := c.taken
		c.taken++
		c.mu.Unlock()
		_, err := c.w.Write(out)
		c.mu.Lock()
		if cap(out) <= maxSpare {
			c.spare = out
		} else {
			c.spare = nil
		}
		if err != nil {
			c.err = err
			c.pending = nil
			if batch == mine {
				return err
			}
			return nil // p went out in an earlier batch
		}
		c.written = c.taken
		c.cond.Broadcast()
	}
	return nil
}
