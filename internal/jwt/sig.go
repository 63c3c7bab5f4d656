package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"errors"
	"fmt"
	"math/big"
)

// MinRSABits is the smallest RSA modulus accepted, in keys and thus in
// signatures.
const MinRSABits = 2048

// algHash is the digest each algorithm signs.
func algHash(alg string) crypto.Hash {
	switch alg {
	case "RS256", "PS256", "ES256":
		return crypto.SHA256
	case "RS384", "PS384", "ES384":
		return crypto.SHA384
	case "RS512", "PS512", "ES512":
		return crypto.SHA512
	}
	return 0
}

// algCurve is the curve an ECDSA algorithm is defined on (RFC 7518 §3.4).
func algCurve(alg string) elliptic.Curve {
	switch alg {
	case "ES256":
		return elliptic.P256()
	case "ES384":
		return elliptic.P384()
	case "ES512":
		return elliptic.P521()
	}
	return nil
}

// keyFits reports whether key can verify alg: RS and PS need RSA, ES the
// algorithm's own curve, EdDSA Ed25519.
func keyFits(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (alg[0] == 'R' || alg[0] == 'P') && k.N.BitLen() >= MinRSABits
	case *ecdsa.PublicKey:
		return algCurve(alg) == k.Curve
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

func verifySignature(alg string, key crypto.PublicKey, signed string, sig []byte) error {
	if !keyFits(alg, key) {
		return fmt.Errorf("a %T key cannot verify %s", key, alg)
	}
	if alg == "EdDSA" {
		if !ed25519.Verify(key.(ed25519.PublicKey), []byte(signed), sig) {
			return ErrSignature
		}
		return nil
	}
	hf := algHash(alg)
	h := hf.New()
	h.Write([]byte(signed))
	digest := h.Sum(nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(k, hf, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(k, hf, digest, sig)
	case *ecdsa.PublicKey:
		// JWS carries r and s as fixed-size big-endian integers, not DER.
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return ErrSignature
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return ErrSignature
		}
		return nil
	}
	return errors.New("unsupported key")
}
