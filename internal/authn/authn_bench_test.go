package authn

import (
	"context"
	"testing"

	"mcpwarden/internal/apikey"
	"mcpwarden/internal/jwt/jwttest"
)

// BenchmarkAuthenticate is the per-request cost of authentication: an
// API key, a JWT seen before (cached), and a fresh JWT (signature check)
// for each algorithm family.
// Run: go test -run=^$ -bench=Authenticate -benchmem ./internal/authn
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	key := apikey.New()
	b.Run("api_key", func(b *testing.B) {
		a, err := New(Options{Config: Config{APIKeys: []APIKey{{Name: "k", Hash: apikey.Hash(key)}}}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.AuthenticateToken(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		iss := jwttest.NewIssuer(b, alg)
		a, err := New(Options{Config: Config{JWT: &JWTConfig{Issuer: iss.URL, Audience: []string{aud}, JWKSURL: iss.JWKSURL, Algorithms: []string{alg}}}, HTTPClient: iss.Client()})
		if err != nil {
			b.Fatal(err)
		}
		tok := iss.Sign(b, iss.Claims("alice", aud))
		if _, err := a.AuthenticateToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.Run("jwt/"+alg+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.AuthenticateToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("jwt/"+alg+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.cache = tokenCache{} // every request a new token
				if _, err := a.AuthenticateToken(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
