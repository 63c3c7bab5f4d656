// Package jwt verifies JSON Web Tokens (RFC 7519) signed with JWS compact
// serialization (RFC 7515) against the public keys an issuer publishes as
// a JWK Set (RFC 7517), as an OAuth 2.1 resource server must.
//
// It implements only what a resource server needs, and refuses the rest:
// no unsigned ("none") or HMAC tokens, no keys taken from the token itself
// (jwk, jku, x5u, x5c headers are ignored), no critical extensions, no
// duplicate header or claim names, and only the algorithms the caller
// allows.
//
//	keys := jwt.NewRemoteKeys(jwt.RemoteOptions{Issuer: iss, URL: jwksURL})
//	v, _ := jwt.NewVerifier(jwt.Options{Issuer: iss, Audiences: []string{aud}, Keys: keys})
//	tok, err := v.Verify(ctx, raw)
//	if errors.Is(err, jwt.ErrInvalid) { /* 401 */ }
package jwt

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// MaxTokenBytes bounds the tokens Verify looks at.
const MaxTokenBytes = 16 << 10

// Errors. Every problem with the token itself wraps [ErrInvalid]; the
// caller should answer 401. [ErrKeysUnavailable] is the issuer's or the
// network's fault, not the token's.
var (
	ErrInvalid         = errors.New("invalid token")
	ErrMalformed       = fmt.Errorf("%w: malformed", ErrInvalid)
	ErrAlgorithm       = fmt.Errorf("%w: algorithm not accepted", ErrInvalid)
	ErrSignature       = fmt.Errorf("%w: bad signature", ErrInvalid)
	ErrUnknownKey      = fmt.Errorf("%w: signed with an unknown key", ErrInvalid)
	ErrExpired         = fmt.Errorf("%w: expired", ErrInvalid)
	ErrNotYetValid     = fmt.Errorf("%w: not valid yet", ErrInvalid)
	ErrIssuer          = fmt.Errorf("%w: wrong issuer", ErrInvalid)
	ErrAudience        = fmt.Errorf("%w: wrong audience", ErrInvalid)
	ErrKeysUnavailable = errors.New("the issuer's signing keys are unavailable")
)

// Algorithms are the JWS algorithms this package can verify.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms are accepted when [Options].Algorithms is empty: the
// ones every mainstream identity provider signs access tokens with.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Header is the protected JOSE header of a token.
type Header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid,omitempty"`
	Typ  string   `json:"typ,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// Unverified is a token split into its parts, before any check.
type Unverified struct {
	Header    Header
	Payload   []byte
	signed    string // header.payload, the signing input
	signature []byte
}

// Parse splits and decodes a compact JWS. It checks only the syntax: the
// result must not be trusted until [Verifier.Verify] accepts it.
func Parse(token string) (*Unverified, error) {
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenBytes)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	hb, err := decodeSegment(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	pb, err := decodeSegment(p)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	sb, err := decodeSegment(s)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	u := &Unverified{Payload: pb, signed: token[:len(h)+1+len(p)], signature: sb}
	if err := decodeObject(hb, &u.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if u.Header.Alg == "" {
		return nil, fmt.Errorf("%w: the header names no algorithm", ErrMalformed)
	}
	return u, nil
}

// decodeSegment decodes unpadded base64url strictly: no padding, no other
// alphabet, no stray bits, so that each token has one spelling.
func decodeSegment(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// decodeObject decodes a JSON object into v after checking that it is one
// object with no repeated member names: two "sub" claims must not mean
// whichever one a parser happens to keep.
func decodeObject(b []byte, v any) error {
	if err := uniqueMembers(b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func uniqueMembers(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("member %q appears twice", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("data after the JSON object")
	}
	return nil
}

// KeySource returns the public keys that may have signed a token with the
// given key ID and algorithm. kid may be empty, in which case every key
// usable with alg is a candidate. It is safe for concurrent use.
type KeySource interface {
	Lookup(ctx context.Context, kid, alg string) ([]crypto.PublicKey, error)
}

// Options configures a [Verifier].
type Options struct {
	// Issuer must equal the token's iss claim exactly.
	Issuer string
	// Audiences: the token's aud must contain at least one of them.
	Audiences []string
	// Algorithms allowed; empty means [DefaultAlgorithms].
	Algorithms []string
	// ClockSkew is the tolerance on exp, nbf and iat.
	ClockSkew time.Duration
	// Keys supplies the issuer's public keys.
	Keys KeySource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks tokens from one issuer. It is safe for concurrent use.
type Verifier struct {
	opts Options
	now  func() time.Time
}

// NewVerifier checks opts and returns a verifier.
func NewVerifier(opts Options) (*Verifier, error) {
	if opts.Issuer == "" {
		return nil, errors.New("jwt: no issuer")
	}
	if len(opts.Audiences) == 0 {
		return nil, errors.New("jwt: no audience: a resource server must only accept tokens issued for it")
	}
	if opts.Keys == nil {
		return nil, errors.New("jwt: no key source")
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = DefaultAlgorithms
	}
	for _, a := range opts.Algorithms {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("jwt: algorithm %q is not supported (supported: %s)", a, strings.Join(Algorithms, ", "))
		}
	}
	v := &Verifier{opts: opts, now: opts.Now}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Token is a verified token.
type Token struct {
	Header    Header
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time // zero when absent
	IssuedAt  time.Time // zero when absent
	// Claims holds every claim as decoded from JSON (numbers are float64).
	Claims map[string]any
}

// acceptedTypes are the typ header values of access tokens; anything else
// (an ID token with typ "id_token+jwt", a DPoP proof, a logout token) is a
// different kind of token and must not be accepted in its place.
var acceptedTypes = []string{"jwt", "at+jwt", "application/at+jwt", "application/jwt"}

// Verify checks the token's signature and claims.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	u, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	h := u.Header
	if !slices.Contains(v.opts.Algorithms, h.Alg) {
		return nil, fmt.Errorf("%w: %q (accepted: %s)", ErrAlgorithm, h.Alg, strings.Join(v.opts.Algorithms, ", "))
	}
	if len(h.Crit) > 0 {
		return nil, fmt.Errorf("%w: critical header extensions %v are not understood", ErrMalformed, h.Crit)
	}
	if h.Typ != "" && !slices.Contains(acceptedTypes, strings.ToLower(h.Typ)) {
		return nil, fmt.Errorf("%w: token type %q is not an access token", ErrMalformed, h.Typ)
	}
	keys, err := v.opts.Keys.Lookup(ctx, h.Kid, h.Alg)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w (kid %q)", ErrUnknownKey, h.Kid)
	}
	verified := false
	for _, k := range keys {
		if verifySignature(h.Alg, k, u.signed, u.signature) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, ErrSignature
	}
	return v.checkClaims(u)
}

func (v *Verifier) checkClaims(u *Unverified) (*Token, error) {
	var claims map[string]any
	if err := decodeObject(u.Payload, &claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	t := &Token{Header: u.Header, Claims: claims}
	var ok bool
	if t.Issuer, ok = claims["iss"].(string); !ok || t.Issuer != v.opts.Issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, claims["iss"])
	}
	if s, present := claims["sub"]; present {
		if t.Subject, ok = s.(string); !ok {
			return nil, fmt.Errorf("%w: sub is not a string", ErrMalformed)
		}
	}
	aud, err := audience(claims["aud"])
	if err != nil {
		return nil, err
	}
	t.Audience = aud
	if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(v.opts.Audiences, a) }) {
		return nil, fmt.Errorf("%w: %q", ErrAudience, aud)
	}
	now := v.now()
	skew := v.opts.ClockSkew
	exp, present, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return nil, err
	case !present:
		return nil, fmt.Errorf("%w: the token has no expiry (exp)", ErrMalformed)
	case !now.Before(exp.Add(skew)):
		return nil, fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	t.Expiry = exp
	nbf, present, err := numericDate(claims, "nbf")
	if err != nil {
		return nil, err
	}
	if present && now.Add(skew).Before(nbf) {
		return nil, fmt.Errorf("%w: not before %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
	}
	t.NotBefore = nbf
	iat, present, err := numericDate(claims, "iat")
	if err != nil {
		return nil, err
	}
	if present && now.Add(skew).Before(iat) {
		return nil, fmt.Errorf("%w: issued in the future (%s)", ErrNotYetValid, iat.UTC().Format(time.RFC3339))
	}
	t.IssuedAt = iat
	return t, nil
}

func audience(v any) ([]string, error) {
	switch a := v.(type) {
	case string:
		return []string{a}, nil
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%w: aud holds a non-string", ErrMalformed)
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("%w: the token names no audience", ErrAudience)
	}
	return nil, fmt.Errorf("%w: aud is neither a string nor a list", ErrMalformed)
}

// numericDate reads a NumericDate claim: seconds since the epoch, possibly
// fractional.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, true, fmt.Errorf("%w: %s is not a date", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}
