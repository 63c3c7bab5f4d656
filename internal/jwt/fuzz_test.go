package jwt_test

import (
	"context"
	"testing"
	"time"

	"mcpwarden/internal/jwt"
	"mcpwarden/internal/jwt/jwttest"
)

// FuzzVerify feeds arbitrary tokens to a verifier. Nothing may panic, and
// nothing but the genuinely signed seed may verify: a fuzzer that finds an
// accepted token it did not get from the key holder has found a forgery.
func FuzzVerify(f *testing.F) {
	k, err := jwttest.NewKey("ES256")
	if err != nil {
		f.Fatal(err)
	}
	k.ID = "k"
	set, err := jwt.ParseKeySet(mustJSON(map[string]any{"keys": []any{k.JWK()}}))
	if err != nil {
		f.Fatal(err)
	}
	good := k.Sign(f, map[string]any{"alg": "ES256", "kid": "k"}, claims(nil))
	v, err := jwt.NewVerifier(jwt.Options{Issuer: "https://idp.example.com/", Audiences: []string{aud}, Keys: set, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		good, good + ".", "..", ".", "", "a.b.c", good[:len(good)-2],
		"eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
		"eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.AA", "\x00.\x00.\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := v.Verify(context.Background(), tok)
		if err == nil && tok != good {
			t.Fatalf("Verify accepted a token the key holder never signed: %q -> %+v", tok, got)
		}
	})
}

// FuzzParseKeySet checks that no JWK Set document panics the parser and
// that whatever parses holds only usable public keys.
func FuzzParseKeySet(f *testing.F) {
	for _, alg := range []string{"RS256", "ES256", "ES384", "ES521", "EdDSA"} {
		k, err := jwttest.NewKey(alg)
		if err != nil {
			continue
		}
		f.Add(mustJSON(map[string]any{"keys": []any{k.JWK()}}))
	}
	for _, s := range []string{`{"keys":[]}`, `{"keys":null}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, `{"keys":[{"kty":"RSA","n":"","e":"AAAAAAAB"}]}`, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, `[]`, `{"keys":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := jwt.ParseKeySet(b)
		if err != nil {
			return
		}
		for _, k := range set.Keys {
			if k.Pub == nil {
				t.Fatalf("ParseKeySet(%q) returned a key without a public part", b)
			}
		}
	})
}
