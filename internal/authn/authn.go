// Package authn authenticates the callers of the gateway's HTTP listener,
// as an OAuth 2.1 resource server per the MCP authorization spec
// (2025-11-25): with API keys (stored hashed, see package apikey) and with
// JWT bearer tokens from one issuer, checked against its JWK Set (see
// package jwt). It serves RFC 9728 Protected Resource Metadata, answers
// unauthenticated requests with 401 and a WWW-Authenticate challenge that
// points at it, and hands the verified identity to the pipeline.
//
// The verified caller travels as the go-sdk's [auth.TokenInfo], which the
// Streamable HTTP handler copies into every request's
// [mcp.RequestExtra] and uses to bind a stateful session to the user who
// opened it, so that another caller cannot hijack it by its session ID.
// [Authenticator.Identify] turns it back into a [pipeline.Identity].
//
// The caller's token is never passed upstream: the gateway authenticates
// to upstream servers with their own configured credentials.
//
// Wiring (internal/cli/gateway.go):
//
//	a, _ := authn.New(authn.Options{Config: cfg.Policy.Auth, Path: cfg.Gateway.Path})
//	g, _ := gateway.New(gateway.Options{..., Identify: a.Identify})
//	h := a.Handler(g.Handler(gateway.HTTPOptions{Wrap: a.Wrap}))
package authn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/jwt"
	"mcpwarden/internal/pipeline"
)

// Methods, as they appear in [pipeline.Identity].Method.
const (
	MethodAPIKey = "api_key"
	MethodJWT    = "jwt"
	MethodStdio  = "stdio"
)

// MetadataPath is the well-known path of RFC 9728 metadata.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Options configures an [Authenticator].
type Options struct {
	Config Config
	// Path is the MCP endpoint's path (gateway.path), used for the
	// path-suffixed metadata URL and to tell the MCP endpoint from the
	// legacy SSE one.
	Path string
	// HTTPClient fetches the issuer's metadata and keys; nil means a
	// client that trusts the system roots plus Config.JWT.CAFile.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Authenticator checks the credentials of HTTP requests. It is safe for
// concurrent use.
type Authenticator struct {
	cfg      Config
	path     string
	log      *slog.Logger
	now      func() time.Time
	keys     *apikey.Set[*keyEntry]
	verifier *jwt.Verifier
	remote   *jwt.RemoteKeys // nil with jwks_file
	jcfg     *JWTConfig
	cache    tokenCache
	scopes   []string
}

type keyEntry struct {
	id      pipeline.Identity
	userID  string
	expires time.Time
}

// New builds an authenticator. The configuration must have passed
// [Config.Validate]; New still refuses what it cannot run.
func New(opts Options) (*Authenticator, error) {
	if es := opts.Config.Validate(); len(es) > 0 {
		return nil, fmt.Errorf("policy.auth: %w", es)
	}
	a := &Authenticator{cfg: opts.Config, path: opts.Path, log: opts.Logger, now: opts.Now, keys: apikey.NewSet[*keyEntry]()}
	if a.path == "" {
		a.path = "/mcp"
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "authn")
	if a.now == nil {
		a.now = time.Now
	}
	for _, k := range opts.Config.APIKeys {
		if k.Disabled {
			continue
		}
		d, _ := apikey.ParseHash(k.Hash) // validated
		groups := append([]string(nil), k.Groups...)
		a.keys.Add(d, &keyEntry{
			id:      pipeline.Identity{Subject: k.Name, Method: MethodAPIKey, Groups: groups, Claims: map[string]any{"key": k.Name}},
			userID:  MethodAPIKey + ":" + k.Name,
			expires: k.Expires.Time,
		})
	}
	if j := opts.Config.JWT; j != nil {
		if err := a.setupJWT(j, opts); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Authenticator) setupJWT(j *JWTConfig, opts Options) error {
	a.jcfg = j
	a.scopes = j.RequiredScopes
	var src jwt.KeySource
	if j.JWKSFile != "" {
		b, err := os.ReadFile(j.JWKSFile)
		if err != nil {
			return fmt.Errorf("policy.auth.jwt.jwks_file: %w", err)
		}
		set, err := jwt.ParseKeySet(b)
		if err != nil {
			return fmt.Errorf("policy.auth.jwt.jwks_file %s: %w", j.JWKSFile, err)
		}
		if len(set.Keys) == 0 {
			return fmt.Errorf("policy.auth.jwt.jwks_file %s: no usable signature key", j.JWKSFile)
		}
		src = set
	} else {
		client := opts.HTTPClient
		if client == nil {
			c, err := clientTrusting(j.CAFile)
			if err != nil {
				return err
			}
			client = c
		}
		remote, err := jwt.NewRemoteKeys(jwt.RemoteOptions{URL: j.JWKSURL, Issuer: j.Issuer, Client: client, TTL: j.CacheTTL.D(), Logger: a.log, Now: a.now})
		if err != nil {
			return err
		}
		a.remote, src = remote, remote
	}
	v, err := jwt.NewVerifier(jwt.Options{Issuer: j.Issuer, Audiences: j.Audience, Algorithms: j.Algorithms, ClockSkew: j.clockSkew(), Keys: src, Now: a.now})
	if err != nil {
		return err
	}
	a.verifier = v
	return nil
}

// clientTrusting returns an HTTP client that trusts the system roots and
// the certificates in caFile.
func clientTrusting(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("policy.auth.jwt.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("policy.auth.jwt.ca_file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// Enabled reports whether requests must authenticate.
func (a *Authenticator) Enabled() bool { return a != nil && a.cfg.Enabled() }

// Prefetch fetches the issuer's keys now, so that a misconfigured issuer
// shows up in the log at start-up rather than on the first request.
func (a *Authenticator) Prefetch(ctx context.Context) error {
	if a.remote == nil {
		return nil
	}
	return a.remote.Refresh(ctx)
}

// identityKey is where the identity travels in TokenInfo.Extra.
const identityKey = "mcpwarden.identity"

// Identify returns the caller of a request authenticated by [Wrap], for
// gateway.Options.Identify. Requests without a verified token are
// anonymous.
func (a *Authenticator) Identify(_ context.Context, extra *mcp.RequestExtra) pipeline.Identity {
	if extra == nil || extra.TokenInfo == nil {
		return pipeline.Identity{}
	}
	id, _ := extra.TokenInfo.Extra[identityKey].(pipeline.Identity)
	return id
}

// verifiedKey carries the verified TokenInfo from Wrap's own check to the
// go-sdk middleware, which places it where the MCP handlers find it.
type verifiedKey struct{}

// Wrap requires valid credentials on every request to the MCP endpoint,
// for gateway.HTTPOptions.Wrap. The legacy HTTP+SSE endpoint is refused:
// its messages arrive detached from the HTTP request that carried them,
// so the caller's identity cannot follow them.
func (a *Authenticator) Wrap(next http.Handler) http.Handler {
	if !a.Enabled() {
		return next
	}
	// RequireBearerToken is the only way to hand the SDK a TokenInfo; the
	// verification itself is done here, once, with proper challenges.
	inject := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		if ti, ok := ctx.Value(verifiedKey{}).(*auth.TokenInfo); ok {
			return ti, nil
		}
		return nil, auth.ErrInvalidToken
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true, ClockSkew: a.skew()})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != a.path {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error":             "invalid_request",
				"error_description": fmt.Sprintf("the legacy HTTP+SSE transport is off while authentication is on, because it cannot carry the caller's identity; use Streamable HTTP at %s", a.path),
			})
			return
		}
		ti, err := a.Authenticate(r)
		if err != nil {
			a.challenge(w, r, err)
			return
		}
		inject.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), verifiedKey{}, ti)))
	})
}

func (a *Authenticator) skew() time.Duration {
	if a.jcfg == nil {
		return 0
	}
	return a.jcfg.clockSkew()
}

// Failure is why a request was not authenticated, in RFC 6750 terms.
type Failure struct {
	Status int    // 400, 401, 403 or 503
	Code   string // "" (no credentials), invalid_request, invalid_token, insufficient_scope, temporarily_unavailable
	Desc   string // safe to show the caller
	Cause  error  // for the log
}

func (f *Failure) Error() string {
	if f.Code == "" {
		return f.Desc
	}
	return f.Code + ": " + f.Desc
}

func (f *Failure) Unwrap() error { return f.Cause }

// Authenticate checks the request's credentials and returns the
// TokenInfo for the go-sdk, with the identity in Extra. Errors are
// *[Failure].
func (a *Authenticator) Authenticate(r *http.Request) (*auth.TokenInfo, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return nil, &Failure{Status: http.StatusUnauthorized, Desc: "authentication required: send Authorization: Bearer with an API key or an access token"}
	}
	if len(values) > 1 {
		return nil, &Failure{Status: http.StatusBadRequest, Code: "invalid_request", Desc: "more than one Authorization header"}
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return nil, &Failure{Status: http.StatusUnauthorized, Code: "invalid_request", Desc: "expected Authorization: Bearer <token>"}
	}
	return a.AuthenticateToken(r.Context(), token)
}

// AuthenticateToken checks one bearer token: an API key if it is one of
// the configured keys, otherwise a JWT if JWTs are accepted.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*auth.TokenInfo, error) {
	if e, ok := a.keys.Lookup(token); ok {
		return a.checkKey(e)
	}
	if a.verifier == nil || strings.HasPrefix(token, apikey.Prefix) || strings.Count(token, ".") != 2 {
		return nil, &Failure{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: "unknown API key"}
	}
	return a.checkJWT(ctx, token)
}

func (a *Authenticator) checkKey(e *keyEntry) (*auth.TokenInfo, error) {
	if !e.expires.IsZero() && !a.now().Before(e.expires) {
		return nil, &Failure{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: "the API key expired on " + e.expires.UTC().Format(time.RFC3339)}
	}
	return &auth.TokenInfo{UserID: e.userID, Expiration: e.expires, Extra: map[string]any{identityKey: e.id}}, nil
}

func (a *Authenticator) checkJWT(ctx context.Context, raw string) (*auth.TokenInfo, error) {
	now := a.now()
	if ti, ok := a.cache.get(raw, now); ok {
		return ti, nil
	}
	tok, err := a.verifier.Verify(ctx, raw)
	switch {
	case errors.Is(err, jwt.ErrKeysUnavailable):
		return nil, &Failure{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Desc: "the gateway cannot reach the token issuer's signing keys; try again later", Cause: err}
	case err != nil:
		return nil, &Failure{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: describe(err), Cause: err}
	}
	j := a.jcfg
	subject, _ := tok.Claims[j.subjectClaim()].(string)
	if subject == "" {
		return nil, &Failure{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: fmt.Sprintf("the token has no %q claim to identify the caller", j.subjectClaim())}
	}
	scopes := scopesOf(tok.Claims)
	for _, s := range a.scopes {
		if !contains(scopes, s) {
			return nil, &Failure{Status: http.StatusForbidden, Code: "insufficient_scope", Desc: "the token lacks the scope " + s}
		}
	}
	id := pipeline.Identity{Subject: subject, Method: MethodJWT, Groups: stringsOf(tok.Claims[j.groupsClaim()]), Claims: tok.Claims}
	ti := &auth.TokenInfo{
		Scopes:     scopes,
		Expiration: tok.Expiry,
		// Method and issuer qualify the subject, so that a token whose sub
		// equals an API key's name cannot take over that key's sessions.
		UserID: MethodJWT + ":" + tok.Issuer + "#" + subject,
		Extra:  map[string]any{identityKey: id},
	}
	a.cache.put(raw, ti, now)
	return ti, nil
}

// describe turns a verification error into the error_description the
// caller sees: what was wrong, without echoing attacker-controlled text.
func describe(err error) string {
	for _, e := range []struct {
		err  error
		desc string
	}{
		{jwt.ErrExpired, "the token has expired"},
		{jwt.ErrNotYetValid, "the token is not valid yet"},
		{jwt.ErrIssuer, "the token was issued by an issuer this gateway does not trust"},
		{jwt.ErrAudience, "the token was not issued for this gateway (wrong audience)"},
		{jwt.ErrAlgorithm, "the token's signature algorithm is not accepted"},
		{jwt.ErrUnknownKey, "the token is signed with a key the issuer does not publish"},
		{jwt.ErrSignature, "the token's signature is not valid"},
	} {
		if errors.Is(err, e.err) {
			return e.desc
		}
	}
	return "the token is malformed"
}

func scopesOf(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	return stringsOf(claims["scp"])
}

// stringsOf reads a claim that is a list of strings or one string of
// space-separated values.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// challenge answers a request that did not authenticate (RFC 6750 §3,
// MCP authorization spec: 401 with WWW-Authenticate naming the resource
// metadata).
func (a *Authenticator) challenge(w http.ResponseWriter, r *http.Request, err error) {
	var f *Failure
	if !errors.As(err, &f) {
		f = &Failure{Status: http.StatusUnauthorized, Code: "invalid_token", Desc: "the credentials could not be checked", Cause: err}
	}
	a.log.Debug("request not authenticated", "status", f.Status, "error", f.Code, "reason", f.Desc, "cause", f.Cause, "remote", r.RemoteAddr)
	if f.Status == http.StatusServiceUnavailable {
		a.log.Warn("a caller could not be authenticated: the issuer's keys are unavailable", "err", f.Cause)
		w.Header().Set("Retry-After", "30")
	}
	params := []string{}
	if f.Code != "" && f.Code != "temporarily_unavailable" {
		params = append(params, fmt.Sprintf("error=%q", f.Code), fmt.Sprintf("error_description=%q", f.Desc))
	}
	if len(a.scopes) > 0 {
		params = append(params, fmt.Sprintf("scope=%q", strings.Join(a.scopes, " ")))
	}
	params = append(params, fmt.Sprintf("resource_metadata=%q", a.metadataURL(r)))
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	body := map[string]string{"error": f.Code, "error_description": f.Desc}
	if f.Code == "" {
		body["error"] = "unauthorized"
	}
	writeJSON(w, f.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// resource returns the protected resource identifier for a request.
func (a *Authenticator) resource(r *http.Request) string {
	if a.cfg.Resource != "" {
		return a.cfg.Resource
	}
	if a.jcfg != nil && len(a.jcfg.Audience) > 0 && checkResource(a.jcfg.Audience[0]) == nil {
		return a.jcfg.Audience[0]
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + a.path
}

// metadataURL is the path-suffixed metadata URL of the resource (RFC
// 9728 §3.1: the well-known path goes between host and path).
func (a *Authenticator) metadataURL(r *http.Request) string {
	res := a.resource(r)
	scheme, rest, _ := strings.Cut(res, "://")
	host, path, _ := strings.Cut(rest, "/")
	path = strings.TrimSuffix("/"+path, "/")
	if i := strings.IndexAny(path, "?"); i >= 0 {
		path = path[:i]
	}
	return scheme + "://" + host + MetadataPath + path
}

// Metadata returns the Protected Resource Metadata for a request.
func (a *Authenticator) Metadata(r *http.Request) *oauthex.ProtectedResourceMetadata {
	m := &oauthex.ProtectedResourceMetadata{
		Resource:               a.resource(r),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           a.cfg.ResourceName,
		ScopesSupported:        a.scopes,
	}
	if m.ResourceName == "" {
		m.ResourceName = "mcpwarden gateway"
	}
	if a.jcfg != nil {
		m.AuthorizationServers = []string{a.jcfg.Issuer}
	}
	return m
}

// Handler serves the Protected Resource Metadata at the well-known path
// (plain and path-suffixed, RFC 9728 §3.1) and passes every other request to inner. The
// metadata is public: it is what a client reads to learn where to get a
// token. With authentication off, inner is returned unchanged.
func (a *Authenticator) Handler(inner http.Handler) http.Handler {
	if !a.Enabled() {
		return inner
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Any suffix: a gateway behind a proxy may be published under a
		// path of its own, and it has only this one resource.
		if r.URL.Path == MetadataPath || strings.HasPrefix(r.URL.Path, MetadataPath+"/") {
			auth.ProtectedResourceMetadataHandler(a.Metadata(r)).ServeHTTP(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
}
