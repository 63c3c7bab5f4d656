package secretref

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const canary = "canary-s3cr3t-value"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		wantErr string
	}{
		{in: "env:GH_TOKEN", want: Ref{Env: "GH_TOKEN"}},
		{in: "file:/run/secrets/db", want: Ref{File: "/run/secrets/db"}},
		{in: "cmd:pass show api/key", want: Ref{Command: []string{"pass", "show", "api/key"}}},
		{in: "command:op read op://vault/item", want: Ref{Command: []string{"op", "read", "op://vault/item"}}},
		{in: "GH_TOKEN", wantErr: "want env:NAME"},
		{in: "vault:x", wantErr: "unknown kind"},
		{in: "env:", wantErr: "set one of"},
		{in: "env:A=B", wantErr: "contains '='"},
		{in: "cmd:   ", wantErr: "set one of"},
		{in: "file:a\x00b", wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) || strings.Join(got.Command, " ") != strings.Join(tt.want.Command, " ") {
				t.Errorf("Parse(%q) = %#v, %v, want %#v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestUnmarshalYAML(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    map[string]string // name -> Ref.String()
		wantErr string
	}{
		{name: "short and long forms", doc: "A: env:X\nB: {file: /f}\nC: {command: [pass, show, a b]}\n", want: map[string]string{"A": "env:X", "B": "file:/f", "C": "cmd:pass"}},
		{name: "unknown key", doc: "A: {enV: X}\n", wantErr: `line 1: secret reference: unknown key "enV"`},
		{name: "two sources", doc: "A: {env: X, file: /f}\n", wantErr: "only one"},
		{name: "sequence", doc: "A: [x]\n", wantErr: "string or a mapping"},
		{name: "bad short form on line 2", doc: "A: env:X\nB: nope\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]Ref
			err := yaml.Unmarshal([]byte(tt.doc), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Unmarshal(%q) error = %v, want %q", tt.doc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k].String() != v {
					t.Errorf("Unmarshal(%q)[%s] = %s, want %s", tt.doc, k, got[k], v)
				}
			}
			if tt.name == "short and long forms" && got["C"].Command[2] != "a b" {
				t.Errorf("command args = %q, want the list form kept intact", got["C"].Command)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	os.WriteFile(file, []byte(canary+"\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	env := map[string]string{"GH": canary, "EMPTY": ""}
	opts := Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	tests := []struct {
		name    string
		ref     Ref
		wantErr string
	}{
		{name: "env", ref: Ref{Env: "GH"}},
		{name: "file", ref: Ref{File: file}},
		{name: "command", ref: Ref{Command: []string{"printf", canary + "\n"}}},
		{name: "env unset", ref: Ref{Env: "NOPE"}, wantErr: "secret env:NOPE: the variable is not set"},
		{name: "env empty", ref: Ref{Env: "EMPTY"}, wantErr: "empty"},
		{name: "file missing", ref: Ref{File: filepath.Join(dir, "missing")}, wantErr: "no such file"},
		{name: "file empty", ref: Ref{File: empty}, wantErr: "empty"},
		{name: "command fails", ref: Ref{Command: []string{"sh", "-c", "echo locked >&2; exit 3"}}, wantErr: "exit status 3: locked"},
		{name: "command echoes secret on stderr", ref: Ref{Command: []string{"sh", "-c", "echo " + canary + "; echo oops " + canary + " >&2; exit 1"}}, wantErr: "exit status 1: " + Redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.ref.Resolve(context.Background(), opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%v) error = %v, want %q", tt.ref, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("Resolve(%v) error %q leaks the secret", tt.ref, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Reveal() != canary {
				t.Errorf("Resolve(%v).Reveal() = %q, want %q", tt.ref, s.Reveal(), canary)
			}
		})
	}
	if _, err := (Ref{Command: []string{"sh", "-c", "head -c 100 /dev/zero | tr '\\0' x"}}).Resolve(context.Background(), Options{MaxSize: 10}); err == nil || !strings.Contains(err.Error(), "longer than 10") {
		t.Errorf("oversized command output error = %v, want 'longer than 10'", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret{value: canary}
	all := Secrets{"TOKEN": s}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("resolved", "secret", s, "all", all)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("resolved", "secret", s)
	j, _ := json.Marshal(struct{ S Secret }{s})
	y, _ := yaml.Marshal(map[string]Secret{"s": s})
	outs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s), fmt.Sprint(all), fmt.Sprintf("%#v", all),
		logs.String(), string(j), string(y),
	}
	for _, o := range outs {
		if strings.Contains(o, canary) || strings.Contains(o, fmt.Sprintf("%x", canary)) {
			t.Errorf("secret printed: %q", o)
		}
		if !strings.Contains(o, Redacted) {
			t.Errorf("output %q does not say %s", o, Redacted)
		}
	}
	if got := all.Env()["TOKEN"]; got != canary {
		t.Errorf("Env()[TOKEN] = %q, want the value", got)
	}
}

func TestResolveAll(t *testing.T) {
	opts := Options{Lookup: func(k string) (string, bool) { return canary, k == "SET" }}
	got, err := ResolveAll(context.Background(), map[string]Ref{"A": {Env: "SET"}}, opts)
	if err != nil || got["A"].Reveal() != canary {
		t.Fatalf("ResolveAll = %v, %v", got, err)
	}
	_, err = ResolveAll(context.Background(), map[string]Ref{"B": {Env: "UNSET"}}, opts)
	if err == nil || !strings.HasPrefix(err.Error(), "B: secret env:UNSET") {
		t.Errorf("ResolveAll error = %v, want it to name B and the reference", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"env:GH", "file:/x", "cmd:a b  c", "env:A=B", "cmd:\x00", ":", "env", "file:", "Env:X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %#v, which does not validate: %v", s, r, err)
		}
		var back Ref
		doc, _ := yaml.Marshal(map[string]Ref{"k": r})
		var m map[string]Ref
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("round trip of %#v through %q: %v", r, doc, err)
		}
		back = m["k"]
		if back.String() != r.String() {
			t.Fatalf("round trip of %#v = %#v", r, back)
		}
	})
}
