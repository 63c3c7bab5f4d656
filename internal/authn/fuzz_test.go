package authn

import (
	"net/http/httptest"
	"strings"
	"testing"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/jwt/jwttest"
)

// FuzzAuthenticate throws arbitrary Authorization headers at the
// authenticator: nothing may panic, and only the configured key and the
// issuer's seed token may authenticate.
func FuzzAuthenticate(f *testing.F) {
	iss := jwttest.NewIssuer(f, "ES256")
	key := apikey.New()
	a, err := New(Options{Config: Config{
		APIKeys: []APIKey{{Name: "k", Hash: apikey.Hash(key)}},
		JWT:     &JWTConfig{Issuer: iss.URL, Audience: []string{aud}, JWKSURL: iss.JWKSURL},
	}, HTTPClient: iss.Client()})
	if err != nil {
		f.Fatal(err)
	}
	tok := iss.Sign(f, iss.Claims("alice", aud))
	for _, s := range []string{"Bearer " + key, "Bearer " + tok, "bearer " + key, "Bearer  " + key, "Bearer", "Bearer ", "Basic x", "Bearer a.b.c", "Bearer " + key + "\x00", "BEARER " + strings.ToUpper(key), "Bearer " + tok + " extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("POST", "/mcp", nil)
		r.Header["Authorization"] = []string{h}
		ti, err := a.Authenticate(r)
		if err != nil {
			if _, ok := err.(*Failure); !ok {
				t.Fatalf("Authenticate(%q) error %T is not a *Failure", h, err)
			}
			return
		}
		_, token, _ := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if token != key && token != tok {
			t.Fatalf("Authenticate(%q) accepted a credential nobody issued: %+v", h, ti)
		}
	})
}
