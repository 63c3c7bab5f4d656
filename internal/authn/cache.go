package authn

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// Bounds of the verified-token cache.
const (
	tokenCacheSize = 4096
	// tokenCacheTTL bounds how long a verified token is trusted without
	// checking its signature again, so that a key the issuer withdraws
	// stops working within this time even for tokens already seen.
	tokenCacheTTL = 2 * time.Minute
)

// tokenCache remembers verified JWTs, keyed by their digest, so that a
// client sending the same token on every request pays for one signature
// check rather than one per request. Entries never outlive the token.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cached
}

type cached struct {
	ti    *auth.TokenInfo
	until time.Time
}

func (c *tokenCache) get(raw string, now time.Time) (*auth.TokenInfo, bool) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(c.m, k)
		return nil, false
	}
	return e.ti, true
}

func (c *tokenCache) put(raw string, ti *auth.TokenInfo, now time.Time) {
	until := now.Add(tokenCacheTTL)
	if ti.Expiration.Before(until) {
		until = ti.Expiration
	}
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]cached)
	}
	if len(c.m) >= tokenCacheSize {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= tokenCacheSize {
			clear(c.m) // many live tokens: start over rather than track age
		}
	}
	c.m[k] = cached{ti: ti, until: until}
}
