package limits

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// shards spread buckets over independent locks, so that callers on
// different keys do not contend.
const shards = 32

// sweepEvery is how many new buckets a shard takes between sweeps for
// idle ones.
const sweepEvery = 1024

// limiter is one rate limit's token buckets, one per key. Tokens refill
// continuously at rate per second up to burst. It is safe for concurrent
// use, and fair: each key has its own bucket, and taking a token is one
// short critical section, so no caller can starve another's bucket.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	seed  maphash.Seed
	shard [shards]struct {
		mu      sync.Mutex
		buckets map[string]*bucket
		added   int
	}
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(r Rate, burst int) *limiter {
	if burst <= 0 {
		burst = r.N
	}
	l := &limiter{rate: r.PerSecond(), burst: float64(burst), seed: maphash.MakeSeed()}
	for i := range l.shard {
		l.shard[i].buckets = make(map[string]*bucket)
	}
	return l
}

// take removes a token from key's bucket. When the bucket is empty it
// returns false and how long until a token is back.
func (l *limiter) take(key string, now time.Time) (bool, time.Duration) {
	s := &l.shard[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		s.added++
		if s.added%sweepEvery == 0 {
			l.sweep(s.buckets, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		s.buckets[key] = b
	}
	if now.After(b.last) {
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// give puts back a token taken for a request that another limit refused.
func (l *limiter) give(key string) {
	s := &l.shard[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[key]; ok {
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

// sweep drops buckets that have refilled completely: a fresh bucket is
// the same, so memory stays bounded by the keys active within one refill
// time.
func (l *limiter) sweep(buckets map[string]*bucket, now time.Time) {
	for k, b := range buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(buckets, k)
		}
	}
}

// size returns the number of buckets held, for tests.
func (l *limiter) size() int {
	n := 0
	for i := range l.shard {
		s := &l.shard[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
