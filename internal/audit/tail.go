package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Query returns the records of src matching f, oldest first (at most
// f.Limit of them when it is set).
func Query(ctx context.Context, src Source, f Filter) ([]Record, error) {
	var out []Record
	_, err := src.Scan(ctx, f, func(r *Record) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// lastN is implemented by sources that can find the newest records
// without reading the whole log.
type lastN interface {
	Last(ctx context.Context, f Filter, n int, fn func(*Record) error) (uint64, error)
}

// DefaultPoll is how often [Tail] looks for new records when following.
const DefaultPoll = 250 * time.Millisecond

// TailOptions configures [Tail].
type TailOptions struct {
	N      int           // how many of the newest matching records to show first; 0 shows none
	Follow bool          // keep watching for new records until ctx ends
	Poll   time.Duration // how often to look when following; 0 means DefaultPoll
}

// Tail calls fn for the newest opts.N records matching f, oldest first,
// and then, when following, for every new matching record as it is
// committed, until ctx is done (which is not an error) or fn fails.
// f.Limit is ignored.
func Tail(ctx context.Context, src Source, f Filter, opts TailOptions, fn func(*Record) error) error {
	f.Limit = 0
	var last uint64
	var err error
	switch {
	case opts.N <= 0:
		last, err = headSeq(ctx, src)
	default:
		if ln, ok := src.(lastN); ok {
			last, err = ln.Last(ctx, f, opts.N, fn)
		} else {
			last, err = lastByScan(ctx, src, f, opts.N, fn)
		}
	}
	if err != nil {
		return done(ctx, err)
	}
	if !opts.Follow {
		return nil
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ff := f
		ff.AfterSeq = max(f.AfterSeq, last)
		seen, err := src.Scan(ctx, ff, fn)
		if err != nil {
			return done(ctx, err)
		}
		last = max(last, seen)
	}
}

// headSeq returns the seq of the last stored record.
func headSeq(ctx context.Context, src Source) (uint64, error) {
	if ln, ok := src.(lastN); ok {
		return ln.Last(ctx, Filter{}, 1, func(*Record) error { return nil })
	}
	return src.Scan(ctx, Filter{}, func(*Record) error { return nil })
}

func lastByScan(ctx context.Context, src Source, f Filter, n int, fn func(*Record) error) (uint64, error) {
	ring := make([]Record, 0, min(n, 1024))
	next := 0
	last, err := src.Scan(ctx, f, func(r *Record) error {
		if len(ring) < n {
			ring = append(ring, *r)
			return nil
		}
		ring[next] = *r
		next = (next + 1) % n
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i := range ring {
		r := ring[(next+i)%len(ring)]
		if err := fn(&r); err != nil {
			return 0, err
		}
	}
	return last, nil
}

// done turns the end of ctx into a clean stop.
func done(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return fmt.Errorf("tailing the audit log: %w", err)
}
