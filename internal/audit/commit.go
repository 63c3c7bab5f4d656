package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by writes to a closed sink or log.
var ErrClosed = errors.New("audit log is closed")

// backend is the storage under a [committer]: it seals a batch onto its
// chain and stores it as one unit under the sync policy. commit is called
// from one goroutine only. On error no record of the batch may count as
// stored and the chain head must not move, so the next batch reuses the
// seqs; a backend that cannot guarantee that (a failed fsync leaves the
// file in an unknown state) must fail every later commit too.
type backend interface {
	commit(batch []*Record) error
	head() Head
	close() error
}

// maxBatch bounds one group commit. Larger batches amortize fsync better
// but make the records at the front of a batch wait longer.
const maxBatch = 1024

// committer turns concurrent writes into group commits: one goroutine
// takes whatever is queued (up to maxBatch), commits it as one
// transaction, and then releases every writer in the batch. A writer
// waits for at most the commit in progress plus its own, and a commit
// costs one fsync however many records it holds, so throughput grows with
// the number of concurrent writers while each acknowledged record is
// durable under the sync policy.
//
// In async mode (sync: off) writers do not wait: records are acknowledged
// when queued, and a failed commit loses them. The failure is logged,
// counted, and returned to the next writers until a commit succeeds.
type committer struct {
	name  string
	be    backend
	async bool
	log   *slog.Logger

	mu     sync.RWMutex // held for reading while enqueuing, for writing by close
	closed bool
	queue  chan *pending
	done   chan struct{} // closed when run has returned

	lost     atomic.Uint64         // async records lost to failed commits
	asyncErr atomic.Pointer[error] // last async commit failure, cleared by a success
}

// chainSink is what [SQLiteSink] and [JSONLSink] share: a committer over
// their backend.
type chainSink struct {
	name string
	c    *committer
}

func newChainSink(name string, be backend, policy SyncPolicy, log *slog.Logger) chainSink {
	if log == nil {
		log = discard
	}
	return chainSink{name: name, c: newCommitter(name, be, policy == SyncOff, log)}
}

// Name implements [Sink]: the kind and path, e.g. "sqlite:/var/lib/audit.db".
func (s *chainSink) Name() string { return s.name }

// Write implements [Sink].
func (s *chainSink) Write(ctx context.Context, r *Record) error {
	_, err := s.c.append(ctx, r)
	return err
}

// Append writes r and returns the seq it was committed at: 0 with sync:
// off, where the record is only queued, and from the SQLite sink, which
// seals records onto the chain when it indexes them.
func (s *chainSink) Append(ctx context.Context, r *Record) (uint64, error) {
	return s.c.append(ctx, r)
}

// Head returns the chain head as of the last commit.
func (s *chainSink) Head() Head { return s.c.be.head() }

// Close commits what is queued and closes the file.
func (s *chainSink) Close() error { return s.c.close() }

func (s *chainSink) committer() *committer { return s.c }

type pending struct {
	rec  Record
	done chan error // buffered; receives the commit result (sync mode only)
}

var pendings = sync.Pool{New: func() any { return &pending{done: make(chan error, 1)} }}

func newCommitter(name string, be backend, async bool, log *slog.Logger) *committer {
	c := &committer{
		name:  name,
		be:    be,
		async: async,
		log:   log,
		queue: make(chan *pending, maxBatch),
		done:  make(chan struct{}),
	}
	go c.run()
	return c
}

// submit queues r. In sync mode the caller must then call wait.
func (c *committer) submit(ctx context.Context, r *Record) (*pending, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	p := pendings.Get().(*pending)
	p.rec = *r
	normalize(&p.rec)
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case c.queue <- p:
	case <-ctx.Done():
		c.mu.RUnlock()
		return nil, ctx.Err()
	}
	c.mu.RUnlock()
	if c.async {
		if e := c.asyncErr.Load(); e != nil {
			return nil, *e
		}
		return nil, nil
	}
	return p, nil
}

// wait returns the seq p was committed at. If ctx ends first the record
// may still be committed later; the caller only stops waiting.
func (c *committer) wait(ctx context.Context, p *pending) (uint64, error) {
	if p == nil {
		return 0, nil // async
	}
	select {
	case err := <-p.done:
		seq := p.rec.Seq
		p.rec = Record{}
		pendings.Put(p)
		if err != nil {
			return 0, err
		}
		return seq, nil
	case <-ctx.Done():
		return 0, ctx.Err() // p stays with the committer, which only sends on its buffered channel
	}
}

func (c *committer) append(ctx context.Context, r *Record) (uint64, error) {
	p, err := c.submit(ctx, r)
	if err != nil {
		return 0, err
	}
	return c.wait(ctx, p)
}

func (c *committer) run() {
	defer close(c.done)
	batch := make([]*pending, 0, maxBatch)
	recs := make([]*Record, 0, maxBatch)
	for p := range c.queue {
		batch = append(batch[:0], p)
	fill:
		for len(batch) < maxBatch {
			select {
			case q, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, q)
			default:
				break fill
			}
		}
		recs = recs[:0]
		for _, q := range batch {
			recs = append(recs, &q.rec)
		}
		err := c.be.commit(recs)
		if c.async {
			c.finishAsync(len(batch), err)
			for _, q := range batch {
				q.rec = Record{}
				pendings.Put(q)
			}
			continue
		}
		for _, q := range batch {
			q.done <- err
		}
		clear(batch)
	}
}

func (c *committer) finishAsync(n int, err error) {
	if err == nil {
		if c.asyncErr.Load() != nil {
			c.asyncErr.Store(nil)
			c.log.Warn("audit sink recovered", "sink", c.name, "lost_total", c.lost.Load())
		}
		return
	}
	total := c.lost.Add(uint64(n))
	c.asyncErr.Store(&err)
	c.log.Error("audit records LOST: commit failed with sync: off", "sink", c.name, "records", n, "lost_total", total, "err", err)
}

// flushVia runs flush unless the committer is closed (closing flushes).
func (c *committer) flushVia(flush func() error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil
	}
	return flush()
}

// close stops accepting records, commits what is queued, and closes the
// backend.
func (c *committer) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.queue)
	c.mu.Unlock()
	<-c.done
	return c.be.close()
}
