// Package secretref resolves the secrets a server is configured with
// from references, so that a token reaches only the server that declares
// it and never sits in the config file or the gateway's own environment
// passthrough.
//
// A reference names where the secret lives:
//
//	secrets:
//	  GITHUB_TOKEN: env:GH_TOKEN                 # a variable of the gateway's environment
//	  DB_PASSWORD: file:/run/secrets/db          # a file (one trailing newline is dropped)
//	  API_KEY: {command: [pass, show, api/key]}  # a command's standard output
//
// Resolved values are [Secret]s, whose String, GoString, Format, LogValue
// and Marshal methods all print [Redacted]; only [Secret.Reveal] returns
// the value, for building the server's environment.
package secretref

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mcpwarden/internal/procenv"
)

// Redacted is what a [Secret] prints as.
const Redacted = "[redacted]"

// Ref is a reference to one secret: exactly one field is set.
type Ref struct {
	Env     string   `yaml:"env,omitempty" json:"env,omitempty"`         // a variable of the gateway's environment
	File    string   `yaml:"file,omitempty" json:"file,omitempty"`       // a file holding the secret
	Command []string `yaml:"command,omitempty" json:"command,omitempty"` // argv of a command printing the secret
}

// Parse parses the short form of a reference: env:NAME, file:PATH or
// cmd:PROGRAM ARG... (split on spaces; use the mapping form
// {command: [...]} for arguments containing spaces).
func Parse(s string) (Ref, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Ref{}, fmt.Errorf("secret reference %q: want env:NAME, file:PATH or cmd:COMMAND", s)
	}
	var r Ref
	switch kind {
	case "env":
		r.Env = rest
	case "file":
		r.File = rest
	case "cmd", "command":
		r.Command = strings.Fields(rest)
	default:
		return Ref{}, fmt.Errorf("secret reference %q: unknown kind %q (want env, file or cmd)", s, kind)
	}
	return r, r.Validate()
}

// Validate checks that exactly one source is set and well-formed.
func (r Ref) Validate() error {
	n := 0
	if r.Env != "" {
		n++
		if strings.ContainsAny(r.Env, "=\x00") {
			return fmt.Errorf("secret reference: env name %q contains '=' or NUL", r.Env)
		}
	}
	if r.File != "" {
		n++
		if strings.ContainsRune(r.File, 0) {
			return errors.New("secret reference: file path contains NUL")
		}
	}
	if len(r.Command) > 0 {
		n++
		if r.Command[0] == "" {
			return errors.New("secret reference: empty command")
		}
		for _, a := range r.Command {
			if strings.ContainsRune(a, 0) {
				return errors.New("secret reference: command argument contains NUL")
			}
		}
	}
	switch n {
	case 0:
		return errors.New("secret reference: set one of env, file or command")
	case 1:
		return nil
	}
	return errors.New("secret reference: set only one of env, file or command")
}

// String describes the reference, not the secret: safe to log.
func (r Ref) String() string {
	switch {
	case r.Env != "":
		return "env:" + r.Env
	case r.File != "":
		return "file:" + r.File
	case len(r.Command) > 0:
		return "cmd:" + r.Command[0]
	}
	return "unset"
}

// UnmarshalYAML accepts the short string form and the mapping form, and
// rejects unknown keys in the mapping so that a typo does not silently
// drop a secret.
func (r *Ref) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		ref, err := Parse(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*r = ref
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i].Value; k {
			case "env", "file", "command":
			default:
				return fmt.Errorf("line %d: secret reference: unknown key %q (want env, file or command)", n.Content[i].Line, k)
			}
		}
		type plain Ref
		var p plain
		if err := n.Decode(&p); err != nil {
			return err
		}
		if err := Ref(p).Validate(); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		*r = Ref(p)
		return nil
	}
	return fmt.Errorf("line %d: secret reference must be a string or a mapping", n.Line)
}

// Secret is a resolved secret value. Every way of printing it prints
// [Redacted].
type Secret struct{ value string }

// Reveal returns the secret value. Call it only to hand the value to the
// server that declared it.
func (s Secret) Reveal() string { return s.value }

func (Secret) String() string                { return Redacted }
func (Secret) GoString() string              { return Redacted }
func (Secret) LogValue() slog.Value          { return slog.StringValue(Redacted) }
func (Secret) MarshalText() ([]byte, error)  { return []byte(Redacted), nil }
func (Secret) MarshalJSON() ([]byte, error)  { return json.Marshal(Redacted) }
func (Secret) Format(f fmt.State, verb rune) { io.WriteString(f, Redacted) }
func (Secret) MarshalYAML() (any, error)     { return Redacted, nil }

var _ slog.LogValuer = Secret{}

// Options configure resolution. The zero value reads the real
// environment and filesystem.
type Options struct {
	// Lookup reads the gateway's environment; nil means os.LookupEnv.
	Lookup procenv.Lookup
	// CommandEnv is the environment of secret commands; nil means the
	// scrubbed base of [procenv.Build]. Password managers may need more
	// (GNUPGHOME, an agent socket): list it here.
	CommandEnv []string
	// Timeout bounds a command; zero means 30 s.
	Timeout time.Duration
	// MaxSize bounds a secret's length; zero means 64 KiB.
	MaxSize int
}

// Resolve reads the secret a reference points to. Errors describe the
// reference and never contain the value. An empty secret is an error: it
// is almost always a mistake, and a server started with an empty token
// fails in confusing ways.
func (r Ref) Resolve(ctx context.Context, opts Options) (Secret, error) {
	if err := r.Validate(); err != nil {
		return Secret{}, err
	}
	max := opts.MaxSize
	if max <= 0 {
		max = 64 << 10
	}
	var v string
	switch {
	case r.Env != "":
		lookup := opts.Lookup
		if lookup == nil {
			lookup = os.LookupEnv
		}
		val, ok := lookup(r.Env)
		if !ok {
			return Secret{}, fmt.Errorf("secret %s: the variable is not set in the gateway's environment", r)
		}
		v = val
	case r.File != "":
		f, err := os.Open(r.File)
		if err != nil {
			return Secret{}, fmt.Errorf("secret %s: %w", r, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
		f.Close()
		if err != nil {
			return Secret{}, fmt.Errorf("secret %s: reading: %w", r, err)
		}
		v = trimNewline(string(b))
	default:
		out, err := runCommand(ctx, r, opts, max)
		if err != nil {
			return Secret{}, err
		}
		v = trimNewline(out)
	}
	if len(v) > max {
		return Secret{}, fmt.Errorf("secret %s: longer than %d bytes", r, max)
	}
	if v == "" {
		return Secret{}, fmt.Errorf("secret %s: empty", r)
	}
	return Secret{value: v}, nil
}

func trimNewline(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

func runCommand(ctx context.Context, r Ref, opts Options, max int) (string, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Command[0], r.Command[1:]...)
	cmd.Env = opts.CommandEnv
	if cmd.Env == nil {
		cmd.Env = procenv.Build(opts.Lookup, nil)
	}
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = max+1, 512
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := firstLine(stderr.String())
		if v := trimNewline(stdout.String()); v != "" && strings.Contains(msg, v) {
			msg = Redacted // the command echoed its secret on stderr
		}
		if msg != "" {
			return "", fmt.Errorf("secret %s: %w: %s", r, err, msg)
		}
		return "", fmt.Errorf("secret %s: %w", r, err)
	}
	return stdout.String(), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// limitedBuffer keeps the first max bytes written and discards the rest,
// so a runaway command cannot exhaust memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// Secrets are the resolved secrets of one server, by environment
// variable name.
type Secrets map[string]Secret

// ResolveAll resolves every reference of one server. The first failure
// stops resolution; its error names the variable and the reference.
func ResolveAll(ctx context.Context, refs map[string]Ref, opts Options) (Secrets, error) {
	out := make(Secrets, len(refs))
	for name, ref := range refs {
		s, err := ref.Resolve(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

// Env returns the secrets as environment variables for the server's
// declared environment (see [procenv.Build]).
func (s Secrets) Env() map[string]string {
	env := make(map[string]string, len(s))
	for k, v := range s {
		env[k] = v.value
	}
	return env
}
