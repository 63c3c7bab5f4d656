package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"mcpwarden/internal/discover"
	"mcpwarden/internal/report"
)

// Kind is what a target is.
type Kind string

const (
	Declared    Kind = "client-config" // a server declared in a client config
	Definitions Kind = "definitions"   // a tool-definitions file: static only
	URL         Kind = "url"           // an http(s) URL named on the command line
	Command     Kind = "command"       // a stdio command named on the command line
	Broken      Kind = "broken"        // a config file or entry that could not be read
)

// CommandLine is the group of targets named on the command line (URLs,
// commands, definitions files): they are reviewed as the servers of one
// agent for cross-server analyses.
const CommandLine = "command line"

// Target is one thing to review.
type Target struct {
	Kind Kind
	Name string
	// Group is the client whose servers are reviewed together for
	// shadowing and toxic flows: a client ID, or [CommandLine].
	Group string
	// Server is the declaration: read from a config for Declared, made up
	// from the URL or command otherwise. Nil for Definitions and Broken.
	Server *discover.Server
	// Path is the definitions file, or the config file of Broken.
	Path string
	// Problem is why a Broken target cannot be read.
	Problem string
	// Headers are HTTP headers for a URL target (credentials from flags
	// or the environment).
	Headers map[string]string
}

func (t *Target) source() report.Source {
	switch t.Kind {
	case Declared:
		return report.Source{Kind: string(Declared), Client: t.Server.Client, Path: t.Server.ConfigPath, Line: t.Server.Line}
	case Definitions:
		return report.Source{Kind: string(Definitions), Path: t.Path}
	case Broken:
		return report.Source{Kind: string(Declared), Client: t.Group, Path: t.Path}
	}
	return report.Source{Kind: string(t.Kind)}
}

// TargetOptions configure [Resolve].
type TargetOptions struct {
	// Discover is used for discovery (no targets) and to read config
	// files named explicitly.
	Discover discover.Options
	// Headers are added to URL targets.
	Headers map[string]string
	// Name names the command target; "" derives it from the command.
	Name string
}

// ErrNoTarget is returned by [Resolve] when an argument names nothing
// that exists; it is a usage error.
var ErrNoTarget = errors.New("no such target")

// Resolve turns command-line targets into [Target]s: each argument is an
// http(s) URL, a tool-definitions file or a client config file; command
// is the stdio server given after "--". With neither, the client
// configurations on this machine are discovered.
func Resolve(ctx context.Context, args, command []string, o TargetOptions) ([]Target, error) {
	if len(args) == 0 && len(command) == 0 {
		return discoverAll(ctx, o)
	}
	var out []Target
	for _, a := range args {
		ts, err := resolveArg(a, o)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	if len(command) > 0 {
		name := o.Name
		if name == "" {
			name = CommandName(command[0], command[1:])
		}
		out = append(out, Target{Kind: Command, Name: name, Group: CommandLine,
			Server: &discover.Server{Name: name, Transport: discover.Stdio, Command: command[0], Args: command[1:],
				Raw: discover.Raw{Command: command[0], Args: command[1:]}}})
	}
	return out, nil
}

func resolveArg(a string, o TargetOptions) ([]Target, error) {
	if low := strings.ToLower(a); strings.HasPrefix(low, "http://") || strings.HasPrefix(low, "https://") {
		u, err := url.Parse(a)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: %q is not a valid URL", ErrNoTarget, a)
		}
		tr := discover.HTTP
		if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/sse") {
			tr = discover.SSE
		}
		name := u.Hostname()
		if p := u.Port(); p != "" {
			name += ":" + p
		}
		return []Target{{Kind: URL, Name: name, Group: CommandLine, Headers: o.Headers,
			Server: &discover.Server{Name: name, Transport: tr, URL: a, Headers: o.Headers, Raw: discover.Raw{URL: a}}}}, nil
	}
	st, err := os.Stat(a)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is not a URL and no such file exists", ErrNoTarget, a)
		}
		return nil, fmt.Errorf("%w: %v", ErrNoTarget, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory (name a client config or definitions file)", ErrNoTarget, a)
	}
	if isDefinitions(a) {
		stem := strings.TrimSuffix(filepath.Base(a), filepath.Ext(a))
		stem = strings.TrimSuffix(stem, ".tools")
		return []Target{{Kind: Definitions, Name: stem, Group: CommandLine, Path: a}}, nil
	}
	servers, err := discover.Load(a, o.Discover)
	var out []Target
	for i := range servers {
		out = append(out, declared(&servers[i]))
	}
	if err != nil {
		if len(servers) == 0 {
			var fe *discover.FileError
			if !errors.As(err, &fe) {
				return nil, err
			}
		}
		out = append(out, brokenTargets(a, clientOf(servers), err)...)
	}
	return out, nil
}

// isDefinitions sniffs a file: JSONL by extension, or JSON that is an
// array or an object holding "tools" (a tools/list result), not a client
// config.
func isDefinitions(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		return true
	case ".json", "":
	default:
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := f.Read(head)
	head = bytes.TrimSpace(bytes.TrimPrefix(head[:n], []byte("\xef\xbb\xbf")))
	if len(head) == 0 {
		return false
	}
	if head[0] == '[' {
		return true
	}
	if head[0] != '{' {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(head))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	// The first keys decide: a tools/list result has "tools" (or a
	// JSON-RPC envelope); a JSONL line is a tool with "name".
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return false
		}
		switch k {
		case "tools", "result", "jsonrpc":
			return true
		case "name", "inputSchema", "description":
			// One tool, or JSON lines of tools.
			return bytes.Contains(head, []byte(`"inputSchema"`))
		case "mcpServers", "servers", "mcp", "context_servers", "extensions", "projects":
			return false
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

func declared(s *discover.Server) Target {
	return Target{Kind: Declared, Name: s.Name, Group: s.Client, Server: s}
}

func clientOf(servers []discover.Server) string {
	if len(servers) > 0 {
		return servers[0].Client
	}
	return ""
}

// brokenTargets reports config problems as targets that cannot be
// scanned, one per file error: their servers are missing from the review.
func brokenTargets(path, client string, err error) []Target {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []Target
	for _, e := range errs {
		p, line := path, 0
		var fe *discover.FileError
		if errors.As(e, &fe) {
			p, line = fe.Path, fe.Line
		}
		name := filepath.Base(p)
		if line > 0 {
			name = fmt.Sprintf("%s:%d", name, line)
		}
		out = append(out, Target{Kind: Broken, Name: name, Group: client, Path: p, Problem: e.Error()})
	}
	return out
}

func discoverAll(ctx context.Context, o TargetOptions) ([]Target, error) {
	res, err := discover.Discover(ctx, o.Discover)
	if err != nil {
		return nil, err
	}
	var out []Target
	for i := range res.Servers {
		out = append(out, declared(&res.Servers[i]))
	}
	for _, e := range res.Errors {
		client := ""
		var fe *discover.FileError
		if errors.As(e, &fe) {
			for _, f := range res.Files {
				if f.Path == fe.Path {
					client = f.Client
				}
			}
		}
		out = append(out, brokenTargets("", client, e)...)
	}
	return out, nil
}

// CommandName derives a server name from a command line: the package
// for package runners (npx -y @scope/pkg@1 → pkg), otherwise the
// program's (or script's) base name.
func CommandName(command string, args []string) string {
	base := strings.TrimSuffix(filepath.Base(command), filepath.Ext(command))
	switch base {
	case "npx", "bunx", "uvx", "pipx", "pnpm", "yarn", "docker", "podman", "node", "python", "python3", "deno", "bun", "uv", "npm":
		for _, a := range args {
			if strings.HasPrefix(a, "-") || a == "run" || a == "dlx" || a == "exec" || a == "tool" {
				continue
			}
			a = strings.TrimPrefix(a, "@")
			if i := strings.LastIndex(a, "/"); i >= 0 {
				// node .../server-filesystem/dist/index.js → server-filesystem
				parts := strings.Split(a, "/")
				a = parts[len(parts)-1]
				for j := len(parts) - 1; j > 0 && (a == "index.js" || a == "index.mjs" || a == "main.py" || a == "dist" || a == "build" || a == "src" || a == "lib"); j-- {
					a = parts[j-1]
				}
			}
			if i := strings.IndexAny(a, "@=:"); i > 0 {
				a = a[:i]
			}
			a = strings.TrimSuffix(a, filepath.Ext(a))
			if a != "" {
				base = a
			}
			break
		}
	}
	var b strings.Builder
	for _, r := range base {
		if r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-_.")
	if n == "" {
		return "server"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}
