package gitleaksbench

import (
	"io"
	"testing"

	"github.com/rs/zerolog"
	gldetect "github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"

	"mcpwarden/internal/benchcorpus"
	"mcpwarden/internal/detect"
	"mcpwarden/internal/secrets"
)

const corpusSize = 1 << 20

// TestSameFindings checks that both detectors find the planted
// credentials, so the benchmark compares detectors doing real work.
func TestSameFindings(t *testing.T) {
	logging.Logger = zerolog.New(io.Discard)
	text := benchcorpus.Text(corpusSize)
	gl, err := gldetect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	d, err := secrets.New(secrets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gf := gl.DetectString(text)
	mf := d.Find(text)
	count := map[string]int{}
	for _, m := range mf {
		count[m.Type]++
	}
	t.Logf("gitleaks: %d findings; mcpwarden: %d findings %v", len(gf), len(mf), count)
	if len(gf) == 0 || len(mf) == 0 {
		t.Fatalf("a detector found nothing: gitleaks %d, mcpwarden %d", len(gf), len(mf))
	}
	for _, typ := range []string{"aws-access-key", "github-token", "connection-string", "generic-secret"} {
		if count[typ] == 0 {
			t.Errorf("mcpwarden found no %s in the corpus", typ)
		}
	}
}

// BenchmarkDetect measures, in one run and on the same 1 MiB of
// realistic tool output: gitleaks' detector with its default rules,
// mcpwarden's secret detector, and mcpwarden's whole engine (every
// detector on, as the gateway runs it on results).
func BenchmarkDetect(b *testing.B) {
	logging.Logger = zerolog.New(io.Discard)
	text := benchcorpus.Text(corpusSize)
	gl, err := gldetect.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	sec, err := secrets.New(secrets.Options{})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(detect.Options{Secrets: sec})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("gitleaks", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			gl.DetectString(text)
		}
	})
	b.Run("mcpwarden-secrets", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			sec.Find(text)
		}
	})
	b.Run("mcpwarden-engine", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			eng.InspectText(detect.Result, text)
		}
	})
}
