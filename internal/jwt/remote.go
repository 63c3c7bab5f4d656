package jwt

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cache bounds for remote key sets.
const (
	// DefaultCacheTTL is how long a fetched key set is used when the
	// response has no Cache-Control max-age.
	DefaultCacheTTL = 10 * time.Minute
	// MinCacheTTL and MaxCacheTTL clamp max-age: a set is not refetched
	// more often than every minute on expiry, and is refetched at least
	// daily, so removed (compromised) keys stop working.
	MinCacheTTL = time.Minute
	MaxCacheTTL = 24 * time.Hour
	// DefaultRefetchInterval is the least time between two fetches caused
	// by tokens with an unknown key ID, so that a flood of tokens with
	// random kids cannot make the gateway hammer the issuer.
	DefaultRefetchInterval = 30 * time.Second
	// DefaultMaxStale is how long an expired set is still used while the
	// issuer cannot be reached.
	DefaultMaxStale = 6 * time.Hour
	// maxDocumentBytes bounds metadata and key set documents.
	maxDocumentBytes = 1 << 20
)

// RemoteOptions configures [RemoteKeys].
type RemoteOptions struct {
	// URL is the JWK Set URL (jwks_uri). If empty, it is discovered from
	// the issuer's metadata: RFC 8414 authorization server metadata, then
	// OpenID Connect discovery.
	URL string
	// Issuer is used for discovery and to check the metadata's issuer.
	Issuer string
	// Client fetches documents; nil means a client with a 10s timeout.
	// Redirects are followed only to URLs that pass the same checks.
	Client *http.Client
	// TTL overrides the cache lifetime for responses without max-age;
	// zero means [DefaultCacheTTL].
	TTL time.Duration
	// RefetchInterval, MaxStale: zero means the defaults above.
	RefetchInterval time.Duration
	MaxStale        time.Duration
	Logger          *slog.Logger
	Now             func() time.Time
}

// RemoteKeys is a [KeySource] backed by an issuer's JWK Set, fetched over
// HTTPS (plain HTTP only to loopback, for development) and cached. An
// unknown key ID triggers a refetch, so that keys the issuer rotates in
// are picked up at once; a set that cannot be refreshed is used for
// [RemoteOptions].MaxStale past its expiry. It is safe for concurrent use.
type RemoteKeys struct {
	opts   RemoteOptions
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	url      string // resolved jwks_uri
	set      *KeySet
	expires  time.Time // when set should be refetched
	lastTry  time.Time // last fetch attempt, successful or not
	lastErr  error
	inflight chan struct{} // closed when the running fetch ends
}

var _ KeySource = (*RemoteKeys)(nil)

// NewRemoteKeys returns a key source for the issuer's keys. It fetches
// nothing until the first token arrives, or [RemoteKeys.Refresh].
func NewRemoteKeys(opts RemoteOptions) (*RemoteKeys, error) {
	if opts.URL == "" && opts.Issuer == "" {
		return nil, errors.New("jwt: a remote key set needs a URL or an issuer to discover it from")
	}
	if opts.URL != "" {
		if err := CheckFetchURL(opts.URL); err != nil {
			return nil, fmt.Errorf("jwt: jwks url: %w", err)
		}
	}
	if opts.Issuer != "" && opts.URL == "" {
		if err := CheckFetchURL(opts.Issuer); err != nil {
			return nil, fmt.Errorf("jwt: issuer: %w", err)
		}
	}
	r := &RemoteKeys{opts: opts, url: opts.URL, log: opts.Logger, now: opts.Now}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.opts.TTL <= 0 {
		r.opts.TTL = DefaultCacheTTL
	}
	if r.opts.RefetchInterval <= 0 {
		r.opts.RefetchInterval = DefaultRefetchInterval
	}
	if r.opts.MaxStale <= 0 {
		r.opts.MaxStale = DefaultMaxStale
	}
	base := opts.Client
	if base == nil {
		base = &http.Client{Timeout: 10 * time.Second}
	}
	c := *base
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("too many redirects")
		}
		return CheckFetchURL(req.URL.String())
	}
	r.client = &c
	return r, nil
}

// CheckFetchURL accepts https:// URLs, and http:// URLs to loopback
// addresses (a development issuer on this machine). Keys fetched over
// plain HTTP from elsewhere could be swapped by anyone on the path.
func CheckFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q is plain HTTP; use https (plain HTTP is accepted only for loopback)", raw)
	}
	return fmt.Errorf("%q: want an https URL", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Lookup implements [KeySource].
func (r *RemoteKeys) Lookup(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	set, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	if keys := set.find(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	// An unknown kid may be a key the issuer just rotated in.
	r.mu.Lock()
	again := r.now().Sub(r.lastTry) >= r.opts.RefetchInterval
	r.mu.Unlock()
	if !again {
		return nil, nil
	}
	if set, err = r.fetch(ctx); err != nil {
		r.log.Warn("refetching the issuer's keys for an unknown key ID failed", "kid", kid, "err", err)
		return nil, nil
	}
	return set.find(kid, alg), nil
}

// current returns a usable set, fetching one when there is none or it
// has expired. While another caller fetches, an expired set in hand is
// used rather than waited on.
func (r *RemoteKeys) current(ctx context.Context) (*KeySet, error) {
	r.mu.Lock()
	set, now := r.set, r.now()
	fresh := set != nil && now.Before(r.expires)
	busy := r.inflight != nil
	stale := set != nil && now.Before(r.expires.Add(r.opts.MaxStale))
	failedRecently := set == nil && r.lastErr != nil && now.Sub(r.lastTry) < r.opts.RefetchInterval
	lastErr := r.lastErr
	r.mu.Unlock()
	if fresh || (busy && stale) {
		return set, nil
	}
	if failedRecently {
		// Do not hammer an issuer that is down with one fetch per request.
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, lastErr)
	}
	got, err := r.fetch(ctx)
	if err == nil {
		return got, nil
	}
	if stale {
		r.log.Warn("using the issuer's expired key set: it could not be refreshed", "err", err)
		return set, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
}

// Refresh fetches the key set now, for start-up checks.
func (r *RemoteKeys) Refresh(ctx context.Context) error {
	_, err := r.fetch(ctx)
	return err
}

// fetch runs one fetch at a time; concurrent callers share its outcome.
func (r *RemoteKeys) fetch(ctx context.Context) (*KeySet, error) {
	r.mu.Lock()
	if ch := r.inflight; ch != nil {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.lastErr != nil {
			return nil, r.lastErr
		}
		return r.set, nil
	}
	ch := make(chan struct{})
	r.inflight = ch
	url := r.url
	r.mu.Unlock()

	// The fetch outlives a cancelled caller: others may be waiting on it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	set, ttl, resolved, err := r.download(fctx, url)

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.lastTry, r.lastErr, r.inflight = now, err, nil
	close(ch)
	if err != nil {
		return nil, err
	}
	r.url, r.set, r.expires = resolved, set, now.Add(ttl)
	r.log.Debug("fetched the issuer's signing keys", "url", resolved, "keys", len(set.Keys), "skipped", set.Skipped, "ttl", ttl)
	return set, nil
}

func (r *RemoteKeys) download(ctx context.Context, jwksURL string) (*KeySet, time.Duration, string, error) {
	if jwksURL == "" {
		u, err := r.discover(ctx)
		if err != nil {
			return nil, 0, "", err
		}
		jwksURL = u
	}
	body, header, err := r.get(ctx, jwksURL)
	if err != nil {
		return nil, 0, "", fmt.Errorf("fetching the JWK set: %w", err)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, 0, "", err
	}
	if len(set.Keys) == 0 {
		return nil, 0, "", fmt.Errorf("the JWK set at %s holds no usable signature key (%d skipped)", jwksURL, set.Skipped)
	}
	return set, r.ttl(header), jwksURL, nil
}

// ttl reads Cache-Control max-age, clamped; no-store and no-cache are
// treated as the minimum.
func (r *RemoteKeys) ttl(h http.Header) time.Duration {
	ttl := r.opts.TTL
	for _, part := range strings.Split(h.Get("Cache-Control"), ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if v, ok := strings.CutPrefix(part, "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				ttl = time.Duration(n) * time.Second
			}
		} else if part == "no-store" || part == "no-cache" {
			ttl = 0
		}
	}
	return min(max(ttl, MinCacheTTL), MaxCacheTTL)
}

// discover finds the jwks_uri in the issuer's metadata (RFC 8414 §3, with
// the well-known path inserted before the issuer's path, then OpenID
// Connect Discovery 1.0 §4, appended).
func (r *RemoteKeys) discover(ctx context.Context) (string, error) {
	iss := r.opts.Issuer
	u, err := url.Parse(iss)
	if err != nil {
		return "", fmt.Errorf("issuer: %w", err)
	}
	path := strings.TrimSuffix(u.Path, "/")
	candidates := []string{
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration",
	}
	var errs []error
	for _, c := range candidates {
		body, _, err := r.get(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &meta); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
			continue
		}
		// RFC 8414 §3.3: metadata for another issuer must not be used.
		if meta.Issuer != iss {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", c, meta.Issuer, iss))
			continue
		}
		if err := CheckFetchURL(meta.JWKSURI); err != nil {
			errs = append(errs, fmt.Errorf("%s: jwks_uri: %w", c, err))
			continue
		}
		return meta.JWKSURI, nil
	}
	return "", fmt.Errorf("discovering the issuer's jwks_uri: %w", errors.Join(errs...))
}

func (r *RemoteKeys) get(ctx context.Context, u string) ([]byte, http.Header, error) {
	if err := CheckFetchURL(u); err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: HTTP %s", u, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "text/html" {
			return nil, nil, fmt.Errorf("%s: got an HTML page, not JSON", u)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", u, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, nil, fmt.Errorf("%s: the document is larger than %d bytes", u, maxDocumentBytes)
	}
	return body, resp.Header, nil
}
