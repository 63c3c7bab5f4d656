package audit

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkSQLiteWrite measures sustained group-commit throughput with many
// concurrent writers, each waiting for its own commit, as gateway calls do.
// Run: go test -run=^$ -bench=SQLiteWrite -benchtime=100000x ./internal/audit
func BenchmarkSQLiteWrite(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncNormal, SyncFull, SyncOff} {
		b.Run(string(policy), func(b *testing.B) {
			s, err := OpenSQLiteSink(context.Background(), filepath.Join(b.TempDir(), "a.db"), policy, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchSink(b, s)
		})
	}
}

// BenchmarkJSONLWrite is BenchmarkSQLiteWrite for the JSONL sink.
func BenchmarkJSONLWrite(b *testing.B) {
	for _, policy := range []SyncPolicy{SyncNormal, SyncFull, SyncOff} {
		b.Run(string(policy), func(b *testing.B) {
			s, err := OpenJSONLSink(filepath.Join(b.TempDir(), "a.jsonl"), policy, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchSink(b, s)
		})
	}
}

// benchRecords are the records the sink benchmarks write, in turn.
func benchRecords() []Record {
	recs := make([]Record, 4096)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	return recs
}

func benchSink(b *testing.B, s Sink) {
	ctx := context.Background()
	recs := benchRecords()
	b.ReportAllocs()
	b.SetParallelism(32) // 32 writers per core: a busy gateway
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &recs[int(n.Add(1))%len(recs)]
			if err := s.Write(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkWriteOne is one writer at a time: the latency a lone call pays
// for each of its records.
// Run: go test -run=^$ -bench=WriteOne -benchtime=5000x ./internal/audit
func BenchmarkWriteOne(b *testing.B) {
	for _, sink := range []struct {
		name string
		open func(dir string) (Sink, error)
	}{
		{"sqlite", func(dir string) (Sink, error) {
			return OpenSQLiteSink(context.Background(), filepath.Join(dir, "a.db"), SyncNormal, nil)
		}},
		{"jsonl", func(dir string) (Sink, error) { return OpenJSONLSink(filepath.Join(dir, "a.jsonl"), SyncNormal, nil) }},
	} {
		b.Run(sink.name, func(b *testing.B) {
			s, err := sink.open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			recs := benchRecords()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.Write(ctx, &recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
