package jwt_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mcpwarden/internal/jwt"
	"mcpwarden/internal/jwt/jwttest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func remote(t *testing.T, iss *jwttest.Issuer, clk *clock, url string) (*jwt.RemoteKeys, *jwt.Verifier) {
	t.Helper()
	keys, err := jwt.NewRemoteKeys(jwt.RemoteOptions{URL: url, Issuer: iss.URL, Client: iss.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Options{Issuer: iss.URL, Audiences: []string{aud}, Algorithms: []string{"RS256", "ES256"}, Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return keys, v
}

// TestRemoteKeysRotation follows an issuer through a key rotation: the
// set is fetched once and cached, a token from a new key triggers one
// refetch, and a retired key stops working once the cache expires.
func TestRemoteKeysRotation(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	clk := &clock{t: time.Now()}
	_, v := remote(t, iss, clk, iss.JWKSURL)
	ctx := context.Background()
	verify := func(tok string) error { _, err := v.Verify(ctx, tok); return err }

	old := iss.Sign(t, iss.Claims("alice", aud))
	for range 5 {
		if err := verify(old); err != nil {
			t.Fatalf("Verify(first key) = %v", err)
		}
	}
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for 5 tokens, want 1 (cached)", n)
	}

	iss.Rotate(t, "ES256")
	fresh := iss.Sign(t, iss.Claims("alice", aud))
	clk.Add(jwt.DefaultRefetchInterval) // past the refetch throttle
	if err := verify(fresh); err != nil {
		t.Fatalf("Verify(rotated-in key) = %v, want the set refetched for the new kid", err)
	}
	if n := iss.Fetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (one refetch for the new kid)", n)
	}
	if err := verify(old); err != nil {
		t.Errorf("Verify(old key, still published) = %v", err)
	}

	iss.Retire()
	clk.Add(jwt.DefaultCacheTTL + time.Second)
	if err := verify(old); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Errorf("Verify(retired key after the cache expired) = %v, want ErrUnknownKey", err)
	}
	if err := verify(fresh); err != nil {
		t.Errorf("Verify(current key) = %v", err)
	}
}

// TestRemoteKeysUnknownKidThrottled checks that tokens naming random key
// IDs cannot make the gateway refetch the set on every request.
func TestRemoteKeysUnknownKidThrottled(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	clk := &clock{t: time.Now()}
	_, v := remote(t, iss, clk, iss.JWKSURL)
	k := iss.Current()
	for i := range 20 {
		tok := k.Sign(t, map[string]any{"alg": "ES256", "kid": "random-" + string(rune('a'+i))}, iss.Claims("mallory", aud))
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwt.ErrUnknownKey) {
			t.Fatalf("Verify(unknown kid) = %v, want ErrUnknownKey", err)
		}
	}
	if n := iss.Fetches.Load(); n > 2 {
		t.Errorf("JWKS fetched %d times for 20 unknown kids within the refetch interval, want at most 2", n)
	}
}

func TestRemoteKeysCacheControl(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	iss.SetCacheControl("public, max-age=3600")
	clk := &clock{t: time.Now()}
	_, v := remote(t, iss, clk, iss.JWKSURL)
	c := iss.Claims("alice", aud)
	c["exp"] = time.Now().Add(3 * time.Hour).Unix()
	tok := iss.Sign(t, c)
	verify := func() {
		t.Helper()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	clk.Add(30 * time.Minute) // past the default TTL, within max-age
	verify()
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1: max-age=3600 should keep the set for an hour", n)
	}
	clk.Add(31 * time.Minute)
	verify()
	if n := iss.Fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 after max-age passed", n)
	}
}

// TestRemoteKeysOutage checks the behaviour when the issuer is down: an
// expired set keeps working for MaxStale, then verification fails with
// ErrKeysUnavailable (not ErrInvalid: the token is not at fault), and a
// gateway that never got keys fails closed.
func TestRemoteKeysOutage(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	clk := &clock{t: time.Now()}
	_, v := remote(t, iss, clk, iss.JWKSURL)
	c := iss.Claims("alice", aud)
	c["exp"] = time.Now().Add(24 * time.Hour).Unix()
	tok := iss.Sign(t, c)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	iss.FailJWKS(true)
	clk.Add(jwt.DefaultCacheTTL + time.Minute)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify with a stale set during an outage = %v, want it accepted", err)
	}
	clk.Add(jwt.DefaultMaxStale)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, jwt.ErrKeysUnavailable) || errors.Is(err, jwt.ErrInvalid) {
		t.Errorf("Verify past MaxStale = %v, want ErrKeysUnavailable", err)
	}

	iss2 := jwttest.NewIssuer(t, "ES256")
	iss2.FailJWKS(true)
	_, v2 := remote(t, iss2, &clock{t: time.Now()}, iss2.JWKSURL)
	for range 5 {
		if _, err := v2.Verify(context.Background(), iss2.Sign(t, iss2.Claims("alice", aud))); !errors.Is(err, jwt.ErrKeysUnavailable) {
			t.Fatalf("Verify without any keys = %v, want ErrKeysUnavailable", err)
		}
	}
	if n := iss2.Fetches.Load(); n != 1 {
		t.Errorf("an issuer that is down was asked %d times within the refetch interval, want 1", n)
	}
}

func TestRemoteKeysDiscovery(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	clk := &clock{t: time.Now()}
	_, v := remote(t, iss, clk, "") // no jwks_url: discovered from the issuer
	if _, err := v.Verify(context.Background(), iss.Sign(t, iss.Claims("alice", aud))); err != nil {
		t.Fatalf("Verify with a discovered jwks_uri = %v", err)
	}

	// Metadata that names another issuer must not be used.
	liar := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"https://someone-else.example.com","jwks_uri":"https://someone-else.example.com/jwks"}`))
	}))
	defer liar.Close()
	keys, err := jwt.NewRemoteKeys(jwt.RemoteOptions{Issuer: liar.URL, Client: liar.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Errorf("Refresh with metadata for another issuer = %v, want it refused", err)
	}
}

func TestRemoteKeysURLChecks(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://idp.example.com/jwks", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://[::1]:8080/jwks", true},
		{"http://localhost/jwks", true},
		{"http://idp.example.com/jwks", false},
		{"http://10.0.0.1/jwks", false},
		{"ftp://idp.example.com/jwks", false},
		{"https://user:pw@idp.example.com/jwks", false},
		{"/jwks", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := jwt.CheckFetchURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckFetchURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}

	// A redirect to plain HTTP elsewhere is not followed.
	var hits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer plain.Close()
	redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(plain.URL, "127.0.0.1", "localhost.example", 1), http.StatusFound)
	}))
	defer redirect.Close()
	keys, err := jwt.NewRemoteKeys(jwt.RemoteOptions{URL: redirect.URL + "/jwks", Client: redirect.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("Refresh through a redirect to plain HTTP = %v, want it refused", err)
	}
}

// TestRemoteKeysConcurrent verifies from many goroutines at once on a
// cold cache: one fetch serves them all.
func TestRemoteKeysConcurrent(t *testing.T) {
	iss := jwttest.NewIssuer(t, "ES256")
	_, v := remote(t, iss, &clock{t: time.Now()}, iss.JWKSURL)
	tok := iss.Sign(t, iss.Claims("alice", aud))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 32 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d concurrent verifications failed", failed.Load())
	}
	if n := iss.Fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1 shared by every caller", n)
	}
}
