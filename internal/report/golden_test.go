package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Errorf("Render(fixture) differs from %s (run go test -update to accept):\n%s", path, firstDiff(got, want))
	}
}

// firstDiff shows the first differing line of two outputs.
func firstDiff(got, want []byte) string {
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
			return "line " + itoa(i+1) + ":\n got: " + string(gl) + "\nwant: " + string(wl)
		}
	}
	return "(lengths differ)"
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format string
		opts   RenderOptions
	}{
		{name: "text.golden", format: "text"},
		{name: "text-color.golden", format: "text", opts: RenderOptions{Color: true}},
		{name: "json.golden", format: "json"},
		{name: "sarif.golden", format: "sarif"},
		{name: "html.golden", format: "html"},
		{name: "markdown.golden", format: "markdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, fixture(), tt.format, tt.opts); err != nil {
				t.Fatalf("Render(fixture, %q) = %v", tt.format, err)
			}
			golden(t, tt.name, buf.Bytes())
			// Rendering again, and from a report whose lists arrive in
			// another order, gives the same bytes.
			r := fixture()
			reverse(r.Servers)
			reverse(r.CrossServer)
			for i := range r.Servers {
				reverse(r.Servers[i].Findings)
				reverse(r.Servers[i].Tools)
			}
			var again bytes.Buffer
			if err := Render(&again, r, tt.format, tt.opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Errorf("Render(shuffled fixture, %q) differs from Render(fixture): %s", tt.format, firstDiff(again.Bytes(), buf.Bytes()))
			}
		})
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
