package scan

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"mcpwarden/internal/demo"
	"mcpwarden/internal/report"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// fixedClock returns start, then start plus 1.5s on every later call.
func fixedClock() func() time.Time {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	calls := 0
	return func() time.Time {
		calls++
		if calls == 1 {
			return start
		}
		return start.Add(1500 * time.Millisecond)
	}
}

var port = regexp.MustCompile(`(127\.0\.0\.1|mcpwarden\.invalid):\d+`)

// TestGoldenFormats renders a real scan (the demo server over HTTP and a
// definitions file) in every format. The clock is fixed and the demo's
// random port is replaced, so the output is byte for byte stable.
func TestGoldenFormats(t *testing.T) {
	u, _ := startDemo(t, demo.Options{})
	defs := Target{Kind: Definitions, Name: "filesystem", Group: CommandLine, Path: filepath.Join("testdata", "defs", "filesystem.tools.json")}
	eng := testEngine(t)
	res := run(t, Options{Now: fixedClock(), Version: "v0.0.0-test", Inspector: Engine(eng)}, urlTarget("demo", u), defs)
	known := map[string]bool{}
	for _, r := range append(Rules(), EngineRules(eng)...) {
		known[r.ID] = true
	}
	for _, f := range res.Report.AllFindings() {
		if !known[f.RuleID] {
			t.Errorf("finding %s is not in Rules() (and so not documented)", f.RuleID)
		}
	}
	for _, tt := range []struct{ format, file string }{
		{"text", "scan.txt"}, {"json", "scan.json"}, {"sarif", "scan.sarif"}, {"html", "scan.html"}, {"markdown", "scan.md"},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.Render(&buf, res.Report, tt.format, report.RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			got := port.ReplaceAll(buf.Bytes(), []byte("$1:PORT"))
			golden(t, tt.file, got)
			switch tt.format {
			case "sarif":
				validate(t, filepath.Join("..", "report", "testdata", "sarif-schema-2.1.0.json"), buf.Bytes())
			case "json":
				validate(t, filepath.Join("..", "..", "docs", "report.schema.json"), buf.Bytes())
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < max(len(g), len(w)); i++ {
			var gl, wl []byte
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if !bytes.Equal(gl, wl) {
				t.Fatalf("output differs from %s at line %d (run go test -update to accept):\n got: %s\nwant: %s", path, i+1, gl, wl)
			}
		}
	}
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, errors.New("schema loading disabled: " + url)
}

// validate checks out against the JSON Schema in file, offline.
func validate(t *testing.T, file string, out []byte) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("output does not match %s: %v", file, err)
	}
}
