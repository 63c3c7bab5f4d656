package jwt_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/jwt"
	"mcpwarden/internal/jwt/jwttest"
)

const aud = "https://mcp.example.com/mcp"

// keySet builds a fixed key set from the public halves of keys.
func keySet(t *testing.T, keys ...*jwttest.SigningKey) *jwt.KeySet {
	t.Helper()
	var jwks []map[string]any
	for _, k := range keys {
		jwks = append(jwks, k.JWK())
	}
	b, _ := json.Marshal(map[string]any{"keys": jwks})
	set, err := jwt.ParseKeySet(b)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func newKey(t *testing.T, alg, kid string) *jwttest.SigningKey {
	t.Helper()
	k, err := jwttest.NewKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	k.ID = kid
	return k
}

var now = time.Unix(1_800_000_000, 0)

func claims(mod func(map[string]any)) map[string]any {
	c := map[string]any{"iss": "https://idp.example.com/", "sub": "alice", "aud": aud, "iat": now.Unix() - 10, "nbf": now.Unix() - 10, "exp": now.Unix() + 300, "groups": []string{"dev"}}
	if mod != nil {
		mod(c)
	}
	return c
}

func hdr(k *jwttest.SigningKey, mod func(map[string]any)) map[string]any {
	h := map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "JWT"}
	if mod != nil {
		mod(h)
	}
	return h
}

func TestVerify(t *testing.T) {
	rs := newKey(t, "RS256", "rs")
	es := newKey(t, "ES256", "es")
	ed := newKey(t, "EdDSA", "ed")
	other := newKey(t, "ES256", "es") // same kid, not published
	v, err := jwt.NewVerifier(jwt.Options{
		Issuer: "https://idp.example.com/", Audiences: []string{aud, "other-aud"},
		Algorithms: []string{"RS256", "PS256", "ES256", "EdDSA"}, ClockSkew: 30 * time.Second,
		Keys: keySet(t, rs, es, ed), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token func() string
		want  error // nil: valid
	}{
		{"RS256", func() string { return rs.Sign(t, hdr(rs, nil), claims(nil)) }, nil},
		{"ES256", func() string { return es.Sign(t, hdr(es, nil), claims(nil)) }, nil},
		{"EdDSA", func() string { return ed.Sign(t, hdr(ed, nil), claims(nil)) }, nil},
		{"no kid tries every fitting key", func() string { return es.Sign(t, hdr(es, func(h map[string]any) { delete(h, "kid") }), claims(nil)) }, nil},
		{"aud list", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["aud"] = []string{"x", "other-aud"} }))
		}, nil},
		{"typ at+jwt", func() string { return rs.Sign(t, hdr(rs, func(h map[string]any) { h["typ"] = "at+JWT" }), claims(nil)) }, nil},
		{"no typ", func() string { return rs.Sign(t, hdr(rs, func(h map[string]any) { delete(h, "typ") }), claims(nil)) }, nil},
		{"expired within skew", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["exp"] = now.Unix() - 20 }))
		}, nil},
		{"expired", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["exp"] = now.Unix() - 31 }))
		}, jwt.ErrExpired},
		{"no exp", func() string { return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { delete(c, "exp") })) }, jwt.ErrMalformed},
		{"exp a string", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["exp"] = "tomorrow" }))
		}, jwt.ErrMalformed},
		{"not yet valid", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["nbf"] = now.Unix() + 60 }))
		}, jwt.ErrNotYetValid},
		{"issued in the future", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["iat"] = now.Unix() + 60 }))
		}, jwt.ErrNotYetValid},
		{"wrong issuer", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["iss"] = "https://evil.example.com/" }))
		}, jwt.ErrIssuer},
		{"issuer without slash", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["iss"] = "https://idp.example.com" }))
		}, jwt.ErrIssuer},
		{"wrong audience", func() string {
			return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["aud"] = "https://other.example.com" }))
		}, jwt.ErrAudience},
		{"no audience", func() string { return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { delete(c, "aud") })) }, jwt.ErrAudience},
		{"sub not a string", func() string { return rs.Sign(t, hdr(rs, nil), claims(func(c map[string]any) { c["sub"] = 42 })) }, jwt.ErrMalformed},
		{"alg none", func() string {
			h, _ := json.Marshal(map[string]any{"alg": "none"})
			c, _ := json.Marshal(claims(nil))
			return b64(h) + "." + b64(c) + "."
		}, jwt.ErrMalformed},
		{"alg none with signature", func() string {
			h, _ := json.Marshal(map[string]any{"alg": "none"})
			c, _ := json.Marshal(claims(nil))
			return b64(h) + "." + b64(c) + ".AA"
		}, jwt.ErrAlgorithm},
		{"HS256 with the public key as secret", func() string {
			return rs.Sign(t, hdr(rs, func(h map[string]any) { h["alg"] = "HS256" }), claims(nil))
		}, jwt.ErrAlgorithm},
		{"alg not allowed", func() string {
			k := newKey(t, "ES384", "es384")
			return k.Sign(t, hdr(k, nil), claims(nil))
		}, jwt.ErrAlgorithm},
		{"ES256 header on an RSA key", func() string {
			return rs.SignRaw(t, "RS256", mustJSON(map[string]any{"alg": "ES256", "kid": "rs"}), mustJSON(claims(nil)))
		}, jwt.ErrUnknownKey},
		{"unknown kid", func() string { return rs.Sign(t, hdr(rs, func(h map[string]any) { h["kid"] = "nope" }), claims(nil)) }, jwt.ErrUnknownKey},
		{"signed by another key with a known kid", func() string { return other.Sign(t, hdr(other, nil), claims(nil)) }, jwt.ErrSignature},
		{"tampered payload", func() string {
			tok := rs.Sign(t, hdr(rs, nil), claims(nil))
			parts := strings.Split(tok, ".")
			parts[1] = b64(mustJSON(claims(func(c map[string]any) { c["sub"] = "root" })))
			return strings.Join(parts, ".")
		}, jwt.ErrSignature},
		{"crit header", func() string {
			return rs.Sign(t, hdr(rs, func(h map[string]any) { h["crit"] = []string{"exp"} }), claims(nil))
		}, jwt.ErrMalformed},
		{"id token typ", func() string {
			return rs.Sign(t, hdr(rs, func(h map[string]any) { h["typ"] = "id_token+jwt" }), claims(nil))
		}, jwt.ErrMalformed},
		{"duplicate sub", func() string {
			payload := []byte(`{"iss":"https://idp.example.com/","sub":"alice","aud":"` + aud + `","exp":` + itoa(now.Unix()+300) + `,"sub":"root"}`)
			return rs.SignRaw(t, "RS256", mustJSON(hdr(rs, nil)), payload)
		}, jwt.ErrMalformed},
		{"duplicate alg", func() string {
			return rs.SignRaw(t, "RS256", []byte(`{"alg":"RS256","kid":"rs","alg":"none"}`), mustJSON(claims(nil)))
		}, jwt.ErrMalformed},
		{"payload not an object", func() string { return rs.SignRaw(t, "RS256", mustJSON(hdr(rs, nil)), []byte(`["a"]`)) }, jwt.ErrMalformed},
		{"trailing data in payload", func() string {
			return rs.SignRaw(t, "RS256", mustJSON(hdr(rs, nil)), append(mustJSON(claims(nil)), []byte(` {}`)...))
		}, jwt.ErrMalformed},
		{"padded base64", func() string {
			tok := rs.Sign(t, hdr(rs, nil), claims(nil))
			parts := strings.Split(tok, ".")
			return parts[0] + "=." + parts[1] + "." + parts[2]
		}, jwt.ErrMalformed},
		{"two parts", func() string { return "abc.def" }, jwt.ErrMalformed},
		{"four parts", func() string { return rs.Sign(t, hdr(rs, nil), claims(nil)) + ".x" }, jwt.ErrMalformed},
		{"empty", func() string { return "" }, jwt.ErrMalformed},
		{"huge", func() string { return strings.Repeat("a", jwt.MaxTokenBytes+1) }, jwt.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := v.Verify(context.Background(), tt.token())
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify = %v, want a valid token", err)
			case tt.want == nil:
				if tok.Subject != "alice" || tok.Issuer != "https://idp.example.com/" || tok.Expiry.IsZero() || tok.Claims["groups"] == nil {
					t.Errorf("Verify = %+v, want alice's claims", tok)
				}
			case !errors.Is(err, tt.want):
				t.Errorf("Verify = %v, %v; want error %v", tok, err, tt.want)
			case !errors.Is(err, jwt.ErrInvalid):
				t.Errorf("Verify error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestVerifyAlgorithms(t *testing.T) {
	for _, alg := range jwt.Algorithms {
		t.Run(alg, func(t *testing.T) {
			k := newKey(t, alg, "k")
			v, err := jwt.NewVerifier(jwt.Options{Issuer: "https://idp.example.com/", Audiences: []string{aud}, Algorithms: []string{alg}, Keys: keySet(t, k), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), k.Sign(t, hdr(k, nil), claims(nil))); err != nil {
				t.Errorf("Verify(%s) = %v", alg, err)
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	keys := &jwt.KeySet{}
	tests := []struct {
		name string
		opts jwt.Options
	}{
		{"no issuer", jwt.Options{Audiences: []string{aud}, Keys: keys}},
		{"no audience", jwt.Options{Issuer: "x", Keys: keys}},
		{"no keys", jwt.Options{Issuer: "x", Audiences: []string{aud}}},
		{"HS256", jwt.Options{Issuer: "x", Audiences: []string{aud}, Keys: keys, Algorithms: []string{"HS256"}}},
		{"none", jwt.Options{Issuer: "x", Audiences: []string{aud}, Keys: keys, Algorithms: []string{"none"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := jwt.NewVerifier(tt.opts); err == nil {
				t.Errorf("NewVerifier(%+v) succeeded, want an error", tt.opts)
			}
		})
	}
}

func TestParseKeySet(t *testing.T) {
	rs := newKey(t, "RS256", "rs").JWK()
	es := newKey(t, "ES256", "es").JWK()
	withD := newKey(t, "ES256", "leak").JWK()
	withD["d"] = "c2VjcmV0"
	enc := newKey(t, "ES256", "enc").JWK()
	enc["use"] = "enc"
	offCurve := newKey(t, "ES256", "bad").JWK()
	offCurve["y"] = offCurve["x"]
	tests := []struct {
		name    string
		doc     any
		keys    int
		skipped int
		err     bool
	}{
		{"two keys", map[string]any{"keys": []any{rs, es}}, 2, 0, false},
		{"symmetric and unknown keys are skipped", map[string]any{"keys": []any{rs, map[string]any{"kty": "oct", "k": "c2VjcmV0"}, map[string]any{"kty": "XYZ"}}}, 1, 2, false},
		{"encryption key skipped", map[string]any{"keys": []any{es, enc}}, 1, 1, false},
		{"key_ops without verify skipped", map[string]any{"keys": []any{es, map[string]any{"kty": "EC", "crv": "P-256", "key_ops": []string{"encrypt"}}}}, 1, 1, false},
		{"weak RSA skipped", map[string]any{"keys": []any{map[string]any{"kty": "RSA", "n": b64(make([]byte, 128)), "e": "AQAB"}}}, 0, 1, false},
		{"private key is an error", map[string]any{"keys": []any{es, withD}}, 0, 0, true},
		{"point off the curve", map[string]any{"keys": []any{offCurve}}, 0, 0, true},
		{"bad base64", map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "!!"}}}, 0, 0, true},
		{"short Ed25519", map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64([]byte("short"))}}}, 0, 0, true},
		{"even exponent", map[string]any{"keys": []any{map[string]any{"kty": "RSA", "n": rs["n"], "e": b64([]byte{2})}}}, 0, 0, true},
		{"no keys member", map[string]any{"other": 1}, 0, 0, true},
		{"not JSON", "nope", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			if s, ok := tt.doc.(string); ok {
				b = []byte(s)
			} else {
				b = mustJSON(tt.doc)
			}
			set, err := jwt.ParseKeySet(b)
			if tt.err {
				if err == nil {
					t.Errorf("ParseKeySet = %d keys, want an error", len(set.Keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeySet = %v", err)
			}
			if len(set.Keys) != tt.keys || set.Skipped != tt.skipped {
				t.Errorf("ParseKeySet = %d keys, %d skipped; want %d, %d", len(set.Keys), set.Skipped, tt.keys, tt.skipped)
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func itoa(n int64) string { return string(mustJSON(n)) }
