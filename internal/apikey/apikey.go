// Package apikey makes and checks the API keys that callers present to the
// gateway's HTTP listener as "Authorization: Bearer mcpw_...".
//
// A key is 32 random bytes, base64url-encoded behind the prefix "mcpw_"
// (which makes a leaked key easy to recognise in logs and secret scans).
// The configuration stores only its SHA-256 digest, written
// "sha256:<64 hex digits>". A fast hash is the right tool here, unlike for
// passwords: the keys carry 256 bits of entropy, so there is nothing for a
// slow hash to protect against, and every request is checked without
// adding latency.
//
//	key, _ := apikey.New()        // give to the caller, once
//	stored := apikey.Hash(key)    // put in the config
//	d, _ := apikey.ParseHash(stored)
//	set := apikey.NewSet[string]()
//	set.Add(d, "ci-bot")
//	name, ok := set.Lookup(presented)
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every key that [New] makes.
const Prefix = "mcpw_"

// HashPrefix starts every stored hash.
const HashPrefix = "sha256:"

// MinLength is the shortest key [Check] accepts. Keys made by [New] are 48
// characters long; a hand-made key must be long enough that guessing it is
// hopeless even though its digest is fast to compute.
const MinLength = 32

// MaxLength bounds presented keys, so that a huge header costs nothing.
const MaxLength = 512

// New returns a fresh random key.
func New() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Digest is the SHA-256 digest of a key.
type Digest [sha256.Size]byte

// Sum returns the digest of key.
func Sum(key string) Digest { return sha256.Sum256([]byte(key)) }

// String returns the digest in its stored form, "sha256:<hex>".
func (d Digest) String() string { return HashPrefix + hex.EncodeToString(d[:]) }

// Hash returns the stored form of key's digest.
func Hash(key string) string { return Sum(key).String() }

// ErrBadHash reports a stored hash that is not "sha256:" and 64 hex digits.
var ErrBadHash = errors.New(`expected "sha256:" followed by 64 hex digits, as printed by 'mcpwarden policy hash-key'`)

// ParseHash parses a stored hash. It accepts exactly the form [Hash]
// writes (lower- or upper-case hex), and rejects anything that looks like
// a plaintext key, so that a key pasted into the config by mistake is
// caught rather than silently never matching.
func ParseHash(s string) (Digest, error) {
	var d Digest
	if strings.HasPrefix(s, Prefix) {
		return d, errors.New("this is an API key, not its hash: store the output of 'mcpwarden policy hash-key' instead, and treat this key as leaked")
	}
	hexPart, ok := strings.CutPrefix(s, HashPrefix)
	if !ok || len(hexPart) != hex.EncodedLen(len(d)) {
		return d, ErrBadHash
	}
	if _, err := hex.Decode(d[:], []byte(hexPart)); err != nil {
		return d, ErrBadHash
	}
	return d, nil
}

// Check reports why key cannot be used as an API key: too short, too long,
// or containing characters that do not survive an HTTP header.
func Check(key string) error {
	switch {
	case len(key) < MinLength:
		return fmt.Errorf("the key is %d characters long; use at least %d (or let 'mcpwarden policy hash-key --new' make one)", len(key), MinLength)
	case len(key) > MaxLength:
		return fmt.Errorf("the key is %d characters long; the limit is %d", len(key), MaxLength)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("the key contains %q at byte %d; keys are printable ASCII without spaces", c, i)
		}
	}
	return nil
}

// Set maps key digests to what they identify. It is built once and then
// read concurrently; Add must not race with Lookup.
type Set[V any] struct {
	m map[Digest]V
}

// NewSet returns an empty set.
func NewSet[V any]() *Set[V] { return &Set[V]{m: make(map[Digest]V)} }

// Add registers a digest. It reports false if the digest is already
// present (two entries with the same key), leaving the first in place.
func (s *Set[V]) Add(d Digest, v V) bool {
	if _, dup := s.m[d]; dup {
		return false
	}
	s.m[d] = v
	return true
}

// Len reports the number of keys.
func (s *Set[V]) Len() int { return len(s.m) }

// Lookup finds the entry of a presented key. The key is hashed first, so
// the lookup reveals nothing about stored keys through timing: an attacker
// would need SHA-256 preimages to steer it.
func (s *Set[V]) Lookup(key string) (V, bool) {
	var zero V
	if len(key) > MaxLength || len(s.m) == 0 {
		return zero, false
	}
	v, ok := s.m[Sum(key)]
	return v, ok
}
