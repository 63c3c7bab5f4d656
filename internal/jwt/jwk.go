package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// Key is one verification key from a JWK Set.
type Key struct {
	ID  string // kid; may be empty
	Alg string // the one algorithm the key is for, if the set says so
	Pub crypto.PublicKey
}

// usableFor reports whether the key may verify a token with this header.
func (k *Key) usableFor(kid, alg string) bool {
	if kid != "" && k.ID != kid {
		return false
	}
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	return keyFits(alg, k.Pub)
}

// KeySet is a parsed JWK Set.
type KeySet struct {
	Keys []Key
	// Skipped counts members that were not usable signature keys
	// (encryption keys, symmetric keys, unknown types, weak RSA keys).
	Skipped int
}

// find returns the keys that may verify a token with this kid and alg.
func (s *KeySet) find(kid, alg string) []crypto.PublicKey {
	var out []crypto.PublicKey
	for i := range s.Keys {
		if s.Keys[i].usableFor(kid, alg) {
			out = append(out, s.Keys[i].Pub)
		}
	}
	return out
}

type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	D      string   `json:"d"`
}

// MaxKeys bounds how many keys a set may hold.
const MaxKeys = 100

// ParseKeySet parses a JWK Set document. Members that are not public
// signature keys of a supported type are skipped (and counted), as RFC
// 7517 §5 asks; a member that claims to be one but is broken is an error,
// as is a set with a private key in it, which means the issuer is leaking
// its signing key.
func ParseKeySet(data []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing the JWK set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("parsing the JWK set: no \"keys\" member")
	}
	if len(doc.Keys) > MaxKeys {
		return nil, fmt.Errorf("parsing the JWK set: %d keys, more than the %d accepted", len(doc.Keys), MaxKeys)
	}
	set := &KeySet{}
	for i, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("parsing the JWK set: key %d: %w", i, err)
		}
		if j.D != "" {
			return nil, fmt.Errorf("parsing the JWK set: key %d (kid %q) includes its private part; the issuer is leaking its signing key", i, j.Kid)
		}
		if (j.Use != "" && j.Use != "sig") || (j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify")) {
			set.Skipped++
			continue
		}
		pub, err := j.public()
		if errors.Is(err, errSkip) {
			set.Skipped++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing the JWK set: key %d (kid %q): %w", i, j.Kid, err)
		}
		set.Keys = append(set.Keys, Key{ID: j.Kid, Alg: j.Alg, Pub: pub})
	}
	return set, nil
}

var errSkip = errors.New("not a supported signature key")

func (j *jwk) public() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		n, err := decodeSegment(j.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := decodeSegment(j.E)
		if err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		if len(e) > 4 {
			return nil, errors.New("e is too large")
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("e = %d is not a valid public exponent", exp)
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if k.N.BitLen() < MinRSABits {
			return nil, errSkip // too weak to trust; other keys may still be fine
		}
		return k, nil
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errSkip
		}
		x, err := decodeSegment(j.X)
		if err != nil {
			return nil, fmt.Errorf("x: %w", err)
		}
		y, err := decodeSegment(j.Y)
		if err != nil {
			return nil, fmt.Errorf("y: %w", err)
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("coordinates are not %d bytes long", size)
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("the point is not on %s: %w", j.Crv, err)
		}
		return k, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, errSkip
		}
		x, err := decodeSegment(j.X)
		if err != nil {
			return nil, fmt.Errorf("x: %w", err)
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("an Ed25519 key is %d bytes, got %d", ed25519.PublicKeySize, len(x))
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errSkip
}

// Lookup implements [KeySource], so that a fixed set (from a file) can
// verify tokens.
func (s *KeySet) Lookup(_ context.Context, kid, alg string) ([]crypto.PublicKey, error) {
	return s.find(kid, alg), nil
}
