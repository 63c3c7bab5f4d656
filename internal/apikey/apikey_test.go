package apikey

import (
	"strings"
	"testing"
)

func TestNewAndHash(t *testing.T) {
	a, b := New(), New()
	if a == b {
		t.Fatal("New returned the same key twice")
	}
	if !strings.HasPrefix(a, Prefix) || len(a) != len(Prefix)+43 {
		t.Errorf("New() = %q, want %s and 43 base64url characters", a, Prefix)
	}
	if err := Check(a); err != nil {
		t.Errorf("Check(New()) = %v", err)
	}
	h := Hash(a)
	d, err := ParseHash(h)
	if err != nil {
		t.Fatalf("ParseHash(Hash(key)) = %v", err)
	}
	if d != Sum(a) || d.String() != h {
		t.Errorf("ParseHash(%q) = %v, want the digest of the key", h, d)
	}
	// Known answer: SHA-256 of the empty string.
	if got, want := Hash(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Hash(\"\") = %s, want %s", got, want)
	}
}

func TestParseHash(t *testing.T) {
	good := Hash("x")
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", good, true},
		{"upper hex", "sha256:" + strings.ToUpper(strings.TrimPrefix(good, "sha256:")), true},
		{"empty", "", false},
		{"no prefix", strings.TrimPrefix(good, "sha256:"), false},
		{"other algorithm", "sha512:" + strings.TrimPrefix(good, "sha256:"), false},
		{"short", good[:len(good)-1], false},
		{"long", good + "0", false},
		{"not hex", good[:len(good)-1] + "g", false},
		{"plaintext key", New(), false},
		{"case-folded prefix", "SHA256:" + strings.TrimPrefix(good, "sha256:"), false},
		{"trailing space", good + " ", false},
		{"NUL", good[:len(good)-1] + "\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHash(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("ParseHash(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
	if _, err := ParseHash(New()); err == nil || !strings.Contains(err.Error(), "leaked") {
		t.Errorf("ParseHash(plaintext key) = %v, want a warning that the key leaked", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{"generated", New(), true},
		{"long enough", strings.Repeat("k", MinLength), true},
		{"short", strings.Repeat("k", MinLength-1), false},
		{"too long", strings.Repeat("k", MaxLength+1), false},
		{"space", strings.Repeat("k", MinLength) + " x", false},
		{"newline", strings.Repeat("k", MinLength) + "\n", false},
		{"non-ASCII", strings.Repeat("k", MinLength) + "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.key); (err == nil) != tt.ok {
				t.Errorf("Check(%q) = %v, want ok %v", tt.key, err, tt.ok)
			}
		})
	}
}

func TestSet(t *testing.T) {
	s := NewSet[string]()
	k1, k2 := New(), New()
	if !s.Add(Sum(k1), "one") || !s.Add(Sum(k2), "two") {
		t.Fatal("Add failed")
	}
	if s.Add(Sum(k1), "again") {
		t.Error("Add accepted a duplicate key")
	}
	tests := []struct {
		key, want string
		ok        bool
	}{
		{k1, "one", true},
		{k2, "two", true},
		{k1 + "x", "", false},
		{Hash(k1), "", false}, // presenting the stored hash must not work
		{"", "", false},
		{strings.Repeat("a", MaxLength+1), "", false},
	}
	for _, tt := range tests {
		got, ok := s.Lookup(tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%.12q…) = %q, %v, want %q, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	if s.Len() != 2 {
		t.Errorf("Len() = %d, want 2", s.Len())
	}
}

func FuzzParseHash(f *testing.F) {
	for _, s := range []string{Hash("a"), "sha256:", "", "sha256:" + strings.Repeat("0", 64), "SHA256:00", New(), "sha256:" + strings.Repeat("é", 32), "sha256:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseHash(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip to the canonical form.
		if !strings.EqualFold(d.String(), s) {
			t.Errorf("ParseHash(%q) = %s, which is not the same hash", s, d)
		}
	})
}
