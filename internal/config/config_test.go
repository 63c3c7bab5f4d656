package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorsGolden pins the exact text `mcpwarden config validate` prints
// for each broken file: the messages are part of the user interface.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = nil error, want errors", file)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Load(%s) error %T, want Errors", file, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden (run with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) errors =\n%s\nwant\n%s", file, got, want)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatalf("Load(full.yaml) = %v", err)
	}
	if got, want := len(c.Servers), 3; got != want {
		t.Fatalf("servers = %d, want %d", got, want)
	}
	names := []string{c.Servers[0].Name, c.Servers[1].Name, c.Servers[2].Name}
	if strings.Join(names, ",") != "github,remote,legacy" {
		t.Errorf("server order = %v, want file order github,remote,legacy", names)
	}
	gh := c.Servers[0]
	if gh.Line != 10 || gh.CallTimeout.D() != 2*time.Minute || gh.EffectiveTransport() != TransportStdio {
		t.Errorf("github = line %d timeout %v transport %s, want line 10, 2m, stdio", gh.Line, gh.CallTimeout.D(), gh.EffectiveTransport())
	}
	if r := c.Servers[1]; r.EffectiveTransport() != TransportStreamable || r.CallTimeout.D() != 30*time.Second {
		t.Errorf("remote = %s %v, want streamable and the gateway's 30s timeout", r.EffectiveTransport(), r.CallTimeout.D())
	}
	if c.Gateway.MaxMessageBytes != 1<<20 || c.Gateway.Path != "/mcp" {
		t.Errorf("gateway = %+v", c.Gateway)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Gateway.Listen != DefaultListen || d.Gateway.Listen != DefaultListen {
		t.Errorf("listen = %q / %q, want %q", c.Gateway.Listen, d.Gateway.Listen, DefaultListen)
	}
	if c.Gateway.MaxMessageBytes != DefaultMaxMessageBytes || !*c.Policy.Log.Messages {
		t.Errorf("defaults not applied: %+v", c.Gateway)
	}
}

func TestMissingIsNotInvalid(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
	}
	var es Errors
	if errors.As(err, &es) {
		t.Errorf("Load(missing) is an Errors; a missing file must be told apart from a bad one")
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("version: 1\nservers:\n  a:\n    command: x\n    \x00: y\n"))
	f.Add([]byte("version: 1\nservers: {a: {command: x}, A: {command: y}}\n"))
	f.Add([]byte("version: 1\ngateway: {listen: \"[::1]:1\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil || c.Version != Version {
				t.Fatalf("Parse succeeded with %+v", c)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("Parse error %T %v, want non-empty Errors", err, err)
		}
	})
}
