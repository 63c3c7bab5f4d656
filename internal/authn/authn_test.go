package authn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/jwt/jwttest"
	"mcpwarden/internal/pipeline"
)

const aud = "https://mcp.example.com/mcp"

type fixture struct {
	a       *Authenticator
	iss     *jwttest.Issuer
	key     string // ci-bot's key
	expired string
	off     string
	h       http.Handler
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	iss := jwttest.NewIssuer(t, "ES256")
	f := &fixture{iss: iss, key: apikey.New(), expired: apikey.New(), off: apikey.New()}
	cfg := Config{
		APIKeys: []APIKey{
			{Name: "ci-bot", Hash: apikey.Hash(f.key), Groups: []string{"ci"}},
			{Name: "old-bot", Hash: apikey.Hash(f.expired), Expires: Expiry{time.Now().Add(-time.Hour)}},
			{Name: "off-bot", Hash: apikey.Hash(f.off), Disabled: true},
		},
		JWT: &JWTConfig{Issuer: iss.URL, Audience: []string{aud}, JWKSURL: iss.JWKSURL, RequiredScopes: nil},
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(Options{Config: cfg, Path: "/mcp", HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	// The inner handler reports the identity the SDK middleware stored.
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti := auth.TokenInfoFromContext(r.Context())
		if ti == nil {
			http.Error(w, "no token info", http.StatusInternalServerError)
			return
		}
		id, _ := ti.Extra[identityKey].(pipeline.Identity)
		json.NewEncoder(w).Encode(map[string]any{"subject": id.Subject, "method": id.Method, "groups": id.Groups, "user": ti.UserID})
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", a.Wrap(inner))
	mux.Handle("/mcp/sse", a.Wrap(inner))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	f.h = a.Handler(mux)
	return f
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (f *fixture) do(t *testing.T, path string, authz ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://gw.example:8750"+path, strings.NewReader("{}"))
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header()}
	_ = json.Unmarshal(rec.Body.Bytes(), &r.body)
	return r
}

func TestWrap(t *testing.T) {
	f := newFixture(t, nil)
	iss := f.iss
	claims := func(mod func(map[string]any)) string {
		c := iss.Claims("alice@example.com", aud)
		c["groups"] = []string{"dev", "oncall"}
		if mod != nil {
			mod(c)
		}
		return "Bearer " + iss.Sign(t, c)
	}
	tests := []struct {
		name    string
		path    string
		authz   []string
		status  int
		errCode string // in WWW-Authenticate, "" for none
		subject string
		method  string
	}{
		{name: "no credentials", path: "/mcp", status: 401},
		{name: "API key", path: "/mcp", authz: []string{"Bearer " + f.key}, status: 200, subject: "ci-bot", method: MethodAPIKey},
		{name: "API key, lower-case scheme", path: "/mcp", authz: []string{"bearer " + f.key}, status: 200, subject: "ci-bot", method: MethodAPIKey},
		{name: "unknown API key", path: "/mcp", authz: []string{"Bearer " + apikey.New()}, status: 401, errCode: "invalid_token"},
		{name: "stored hash as key", path: "/mcp", authz: []string{"Bearer " + apikey.Hash(f.key)}, status: 401, errCode: "invalid_token"},
		{name: "expired API key", path: "/mcp", authz: []string{"Bearer " + f.expired}, status: 401, errCode: "invalid_token"},
		{name: "disabled API key", path: "/mcp", authz: []string{"Bearer " + f.off}, status: 401, errCode: "invalid_token"},
		{name: "Basic scheme", path: "/mcp", authz: []string{"Basic " + f.key}, status: 401, errCode: "invalid_request"},
		{name: "two headers", path: "/mcp", authz: []string{"Bearer " + f.key, "Bearer " + f.key}, status: 400, errCode: "invalid_request"},
		{name: "JWT", path: "/mcp", authz: []string{claims(nil)}, status: 200, subject: "alice@example.com", method: MethodJWT},
		{name: "JWT expired", path: "/mcp", authz: []string{claims(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() })}, status: 401, errCode: "invalid_token"},
		{name: "JWT wrong audience", path: "/mcp", authz: []string{claims(func(c map[string]any) { c["aud"] = "https://other.example.com" })}, status: 401, errCode: "invalid_token"},
		{name: "JWT wrong issuer", path: "/mcp", authz: []string{claims(func(c map[string]any) { c["iss"] = "https://evil.example.com" })}, status: 401, errCode: "invalid_token"},
		{name: "JWT without subject", path: "/mcp", authz: []string{claims(func(c map[string]any) { delete(c, "sub") })}, status: 401, errCode: "invalid_token"},
		{name: "legacy SSE refused", path: "/mcp/sse", authz: []string{"Bearer " + f.key}, status: 403},
		{name: "healthz open", path: "/healthz", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.path, tt.authz...)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", r.status, tt.status, r.body)
			}
			if tt.subject != "" && (r.body["subject"] != tt.subject || r.body["method"] != tt.method) {
				t.Errorf("identity = %v, want %s via %s", r.body, tt.subject, tt.method)
			}
			www := r.header.Get("WWW-Authenticate")
			if tt.status == 401 || tt.status == 400 {
				ch, err := oauthex.ParseWWWAuthenticate([]string{www})
				if err != nil || len(ch) != 1 || ch[0].Scheme != "bearer" {
					t.Fatalf("WWW-Authenticate = %q (%v), want one Bearer challenge", www, err)
				}
				if got := ch[0].Params["resource_metadata"]; got != "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" {
					t.Errorf("resource_metadata = %q", got)
				}
				if got := ch[0].Params["error"]; got != tt.errCode {
					t.Errorf("error = %q, want %q", got, tt.errCode)
				}
				if tt.errCode != "" && ch[0].Params["error_description"] == "" {
					t.Errorf("no error_description in %q", www)
				}
			}
		})
	}
}

func TestWrapJWTGroupsAndUserID(t *testing.T) {
	f := newFixture(t, nil)
	c := f.iss.Claims("ci-bot", aud) // same subject as an API key
	c["groups"] = "dev oncall"
	r := f.do(t, "/mcp", "Bearer "+f.iss.Sign(t, c))
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if got := r.body["groups"]; !slices.Equal(toStrings(got), []string{"dev", "oncall"}) {
		t.Errorf("groups = %v, want [dev oncall] from a space-separated claim", got)
	}
	keyUser := f.do(t, "/mcp", "Bearer "+f.key).body["user"]
	if r.body["user"] == keyUser {
		t.Errorf("a JWT with sub %q got the same session user ID as the API key of that name: %v", "ci-bot", keyUser)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestRequiredScopes(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.JWT.RequiredScopes = []string{"mcp:tools"} })
	c := f.iss.Claims("alice", aud)
	c["scope"] = "openid profile"
	r := f.do(t, "/mcp", "Bearer "+f.iss.Sign(t, c))
	if r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) || !strings.Contains(r.header.Get("WWW-Authenticate"), `scope="mcp:tools"`) {
		t.Errorf("token without the scope = %d %q, want 403 insufficient_scope naming it", r.status, r.header.Get("WWW-Authenticate"))
	}
	c["scope"] = "openid mcp:tools"
	if r := f.do(t, "/mcp", "Bearer "+f.iss.Sign(t, c)); r.status != 200 {
		t.Errorf("token with the scope = %d", r.status)
	}
	c["scp"], c["scope"] = []string{"mcp:tools"}, nil
	delete(c, "scope")
	if r := f.do(t, "/mcp", "Bearer "+f.iss.Sign(t, c)); r.status != 200 {
		t.Errorf("token with the scope in scp = %d", r.status)
	}
	// Without credentials the challenge names the scope to ask for.
	if r := f.do(t, "/mcp"); !strings.Contains(r.header.Get("WWW-Authenticate"), `scope="mcp:tools"`) {
		t.Errorf("challenge %q does not name the required scope", r.header.Get("WWW-Authenticate"))
	}
}

func TestIssuerDown(t *testing.T) {
	f := newFixture(t, nil)
	f.iss.FailJWKS(true)
	r := f.do(t, "/mcp", "Bearer "+f.iss.Sign(t, f.iss.Claims("alice", aud)))
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("JWT while the issuer is down = %d (Retry-After %q), want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if r := f.do(t, "/mcp", "Bearer "+f.key); r.status != 200 {
		t.Errorf("API key while the issuer is down = %d, want 200", r.status)
	}
}

func TestMetadata(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.JWT.RequiredScopes = []string{"mcp"} })
	for _, path := range []string{MetadataPath, MetadataPath + "/mcp", MetadataPath + "/team/mcp"} {
		req := httptest.NewRequest(http.MethodGet, "http://gw.example:8750"+path, nil)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		var m oauthex.ProtectedResourceMetadata
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		if m.Resource != aud || !slices.Equal(m.AuthorizationServers, []string{f.iss.URL}) || !slices.Equal(m.ScopesSupported, []string{"mcp"}) || !slices.Equal(m.BearerMethodsSupported, []string{"header"}) {
			t.Errorf("GET %s = %+v", path, m)
		}
	}

	// API keys only, no resource configured: the resource is the URL the
	// request came in on.
	keysOnly, err := New(Options{Config: Config{APIKeys: []APIKey{{Name: "k", Hash: apikey.Hash(apikey.New())}}}, Path: "/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	h := keysOnly.Handler(keysOnly.Wrap(http.NotFoundHandler()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9999"+MetadataPath+"/mcp", nil))
	var m oauthex.ProtectedResourceMetadata
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	if m.Resource != "http://127.0.0.1:9999/mcp" || len(m.AuthorizationServers) != 0 {
		t.Errorf("keys-only metadata = %+v", m)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9999/mcp", nil))
	if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `resource_metadata="http://127.0.0.1:9999/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("keys-only challenge = %q", got)
	}
}

func TestDisabled(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner := http.NotFoundHandler()
	if a.Enabled() {
		t.Error("an empty config enables authentication")
	}
	rec := httptest.NewRecorder()
	a.Handler(a.Wrap(inner)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("metadata served with authentication off: %d", rec.Code)
	}
	if id := a.Identify(context.Background(), nil); !id.Anonymous() {
		t.Errorf("Identify(nil) = %+v, want anonymous", id)
	}
}

func TestJWKSFile(t *testing.T) {
	iss := jwttest.NewIssuer(t, "EdDSA")
	b, _ := json.Marshal(map[string]any{"keys": []any{iss.Current().JWK()}})
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: Config{JWT: &JWTConfig{Issuer: "https://offline.example.com", Audience: []string{aud}, JWKSFile: file}}})
	if err != nil {
		t.Fatal(err)
	}
	c := iss.Claims("alice", aud)
	c["iss"] = "https://offline.example.com"
	ti, err := a.AuthenticateToken(context.Background(), iss.Sign(t, c))
	if err != nil || ti.Extra[identityKey].(pipeline.Identity).Subject != "alice" {
		t.Errorf("AuthenticateToken with a jwks_file = %v, %v", ti, err)
	}
	if n := iss.Fetches.Load(); n != 0 {
		t.Errorf("the issuer was contacted %d times despite jwks_file", n)
	}
}

func TestTokenCache(t *testing.T) {
	var c tokenCache
	now := time.Now()
	ti := &auth.TokenInfo{UserID: "u", Expiration: now.Add(time.Hour)}
	c.put("tok", ti, now)
	if got, ok := c.get("tok", now.Add(time.Minute)); !ok || got != ti {
		t.Error("cached token not found")
	}
	if _, ok := c.get("tok", now.Add(tokenCacheTTL)); ok {
		t.Error("cache entry outlived the cache TTL")
	}
	short := &auth.TokenInfo{UserID: "s", Expiration: now.Add(10 * time.Second)}
	c.put("short", short, now)
	if _, ok := c.get("short", now.Add(11*time.Second)); ok {
		t.Error("cache entry outlived its token")
	}
	for i := range tokenCacheSize + 10 {
		c.put(strings.Repeat("x", i), ti, now)
	}
	if len(c.m) > tokenCacheSize {
		t.Errorf("cache holds %d entries, more than %d", len(c.m), tokenCacheSize)
	}
}

func TestLocalUser(t *testing.T) {
	id := LocalUser()
	if id.Subject == "" || id.Method != MethodStdio || id.Claims["uid"] == "" {
		t.Errorf("LocalUser() = %+v", id)
	}
	if got := IdentifyLocal(id)(context.Background(), nil); got.Subject != id.Subject {
		t.Errorf("IdentifyLocal = %+v", got)
	}
}
