package apikey

import "testing"

func BenchmarkLookup(b *testing.B) {
	s := NewSet[string]()
	var key string
	for i := range 100 {
		k := New()
		s.Add(Sum(k), "caller")
		if i == 50 {
			key = k
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Lookup(key); !ok {
			b.Fatal("not found")
		}
	}
}
