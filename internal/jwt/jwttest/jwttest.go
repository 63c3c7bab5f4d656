// Package jwttest is a token issuer for tests: it generates signing keys,
// serves them as a JWK Set with OpenID Connect and RFC 8414 metadata from
// a loopback HTTPS server, rotates them, and signs tokens with them.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issuer is a test identity provider. Its URL is its issuer identifier.
type Issuer struct {
	URL     string
	JWKSURL string
	Server  *httptest.Server

	// Fetches counts requests for the JWK Set.
	Fetches atomic.Int32

	mu        sync.Mutex
	keys      []*SigningKey // published
	current   *SigningKey   // signs new tokens
	n         int
	cacheCtl  string
	jwksFails bool
}

// SigningKey is one key of the issuer.
type SigningKey struct {
	ID   string
	Alg  string
	priv crypto.Signer
}

// NewIssuer starts an HTTPS issuer on loopback whose first key signs with
// alg (RS256, PS256, ES256, ES384, ES512 or EdDSA).
func NewIssuer(t testing.TB, alg string) *Issuer {
	t.Helper()
	iss := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", iss.serveJWKS)
	meta := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.URL, "jwks_uri": iss.JWKSURL, "authorization_endpoint": iss.URL + "/authorize", "token_endpoint": iss.URL + "/token"})
	}
	mux.HandleFunc("/.well-known/openid-configuration", meta)
	mux.HandleFunc("/.well-known/oauth-authorization-server", meta)
	iss.Server = httptest.NewTLSServer(mux)
	t.Cleanup(iss.Server.Close)
	iss.URL = iss.Server.URL
	iss.JWKSURL = iss.URL + "/jwks.json"
	iss.Rotate(t, alg)
	return iss
}

// Client returns an HTTP client that trusts the issuer's certificate.
func (iss *Issuer) Client() *http.Client { return iss.Server.Client() }

// CertPEM returns the issuer's TLS certificate, for a ca_file.
func (iss *Issuer) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Server.Certificate().Raw})
}

// SetCacheControl sets the Cache-Control header of the JWK Set response.
func (iss *Issuer) SetCacheControl(v string) {
	iss.mu.Lock()
	iss.cacheCtl = v
	iss.mu.Unlock()
}

// FailJWKS makes the JWK Set endpoint answer 503 (or recover).
func (iss *Issuer) FailJWKS(fail bool) {
	iss.mu.Lock()
	iss.jwksFails = fail
	iss.mu.Unlock()
}

// Rotate publishes a new key for alg and signs new tokens with it. Old
// keys stay published until [Issuer.Retire].
func (iss *Issuer) Rotate(t testing.TB, alg string) *SigningKey {
	t.Helper()
	k, err := NewKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.n++
	k.ID = fmt.Sprintf("key-%d", iss.n)
	iss.keys = append(iss.keys, k)
	iss.current = k
	return k
}

// Retire stops publishing every key but the current one.
func (iss *Issuer) Retire() {
	iss.mu.Lock()
	iss.keys = []*SigningKey{iss.current}
	iss.mu.Unlock()
}

// Current returns the key that signs new tokens.
func (iss *Issuer) Current() *SigningKey {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.current
}

// Claims returns valid claims for subject and audience, expiring in an
// hour.
func (iss *Issuer) Claims(subject, audience string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss.URL, "sub": subject, "aud": audience, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// Sign signs claims with the current key.
func (iss *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	k := iss.Current()
	return k.Sign(t, map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "JWT"}, claims)
}

func (iss *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	iss.Fetches.Add(1)
	iss.mu.Lock()
	keys := append([]*SigningKey(nil), iss.keys...)
	cc, fail := iss.cacheCtl, iss.jwksFails
	iss.mu.Unlock()
	if fail {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	var out []map[string]any
	for _, k := range keys {
		out = append(out, k.JWK())
	}
	w.Header().Set("Content-Type", "application/json")
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": out})
}

// NewKey generates a key for alg.
func NewKey(alg string) (*SigningKey, error) {
	k := &SigningKey{Alg: alg}
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k.priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k.priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k.priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("jwttest: unknown algorithm %q", alg)
	}
	return k, err
}

var b64 = base64.RawURLEncoding

// JWK returns the key's public half as a JWK.
func (k *SigningKey) JWK() map[string]any {
	m := map[string]any{"kid": k.ID, "use": "sig", "alg": k.Alg}
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64.EncodeToString(p.N.Bytes()), b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := p.Bytes()
		size := (p.Curve.Params().BitSize + 7) / 8
		m["kty"], m["crv"], m["x"], m["y"] = "EC", p.Curve.Params().Name, b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64.EncodeToString(p)
	}
	return m
}

// Sign makes a compact JWS of header and claims with this key, using the
// algorithm in header["alg"].
func (k *SigningKey) Sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return k.SignRaw(t, fmt.Sprint(header["alg"]), hb, cb)
}

// SignRaw signs exact header and payload bytes with alg.
func (k *SigningKey) SignRaw(t testing.TB, alg string, header, payload []byte) string {
	t.Helper()
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sig, err := k.signature(alg, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func (k *SigningKey) signature(alg string, input []byte) ([]byte, error) {
	digest := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA384:
			s := sha512.Sum384(input)
			return s[:]
		case crypto.SHA512:
			s := sha512.Sum512(input)
			return s[:]
		}
		s := sha256.Sum256(input)
		return s[:]
	}
	hashOf := map[byte]crypto.Hash{'2': crypto.SHA256, '3': crypto.SHA384, '5': crypto.SHA512}
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		h := hashOf[alg[2]]
		if alg[0] == 'P' {
			return rsa.SignPSS(rand.Reader, p, h, digest(h), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, p, h, digest(h))
	case *ecdsa.PrivateKey:
		h := hashOf[alg[2]]
		r, s, err := ecdsa.Sign(rand.Reader, p, digest(h))
		if err != nil {
			return nil, err
		}
		size := (p.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(p, input), nil
	}
	return nil, fmt.Errorf("jwttest: cannot sign with %T", k.priv)
}
