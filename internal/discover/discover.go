// Package discover finds the MCP client configurations on a machine and
// parses the MCP server declarations in them.
//
// It knows the files of Claude Desktop, Claude Code, Cursor, VS Code (and
// Insiders), Windsurf, Cline, Roo, Continue, Zed, Gemini CLI, Codex,
// OpenCode and Goose on Linux, macOS and Windows (docs/scan.md has the
// table). Every declaration says where it was found, down to the line, so
// findings about it can point into the file.
//
// Placeholders are resolved the way each client does (`${env:X}` in VS
// Code, `${X:-default}` in Claude Code, `{env:X}` in OpenCode, ...) from an
// injected environment. What cannot be resolved here, such as VS Code's
// `${input:...}` prompts, is left as written and listed in
// [Server.Unresolved]: discovery never invents a value.
//
// A malformed file is reported as a [FileError] naming the file and line,
// alongside the results from every other file.
//
//	res, err := discover.Discover(ctx, discover.Options{})
//	for _, s := range res.Servers { ... }
//	for _, e := range res.Errors { ... }
package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// maxFileSize bounds what is read from one config file. Claude Code's
// ~/.claude.json grows with history, so the bound is generous.
const maxFileSize = 64 << 20

// Options are discovery's inputs. The zero value discovers for the current
// user on this machine.
type Options struct {
	// Home is the user's home directory; "" means os.UserHomeDir.
	Home string
	// OS is "linux", "darwin" or "windows"; "" means runtime.GOOS.
	OS string
	// Getenv looks up environment variables, both for locating files
	// (APPDATA, XDG_CONFIG_HOME, CODEX_HOME, ...) and for resolving
	// placeholders. nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Cwd is the project directory whose project files (.mcp.json,
	// .cursor/mcp.json, .vscode/mcp.json, ...) are read; "" skips them.
	Cwd string
	// Root prefixes the Unix system-wide paths (/etc, /Library); "" means
	// "/". Tests point it at a fixture.
	Root string
	// Logger receives debug logs of the files examined; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Getenv == nil {
		o.Getenv = os.LookupEnv
	}
	if o.OS == "" {
		o.OS = runtime.GOOS
	}
	switch o.OS {
	case "linux", "darwin", "windows":
	default:
		// Other Unixes lay out dotfiles like Linux.
		o.OS = "linux"
	}
	if o.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return o, fmt.Errorf("discover: find the home directory: %w", err)
		}
		o.Home = h
	}
	if o.Root == "" {
		o.Root = string(filepath.Separator)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// File is one configuration file that exists and was read.
type File struct {
	Client  string `json:"client"`
	Path    string `json:"path"`
	Scope   Scope  `json:"scope"`
	Servers int    `json:"servers"` // declarations decoded from it
}

// Result is what discovery found.
type Result struct {
	Servers []Server `json:"servers"`
	Files   []File   `json:"files"`
	// Errors holds one [*FileError] per unreadable or malformed file and per
	// bad entry; the other files' servers are still in Servers.
	Errors []error `json:"-"`
}

// Discover reads every known client configuration for the user and, when
// Options.Cwd is set, the project. Missing files are skipped; the error
// return is only for a cancelled context or unusable options.
func Discover(ctx context.Context, opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	d := newDirs(&o)
	res := &Result{}
	seen := map[string]bool{}
	for _, c := range d.candidates(&o) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		paths := []string{c.path}
		if strings.Contains(c.path, "*") {
			paths, err = filepath.Glob(c.path)
			if err != nil {
				res.Errors = append(res.Errors, &FileError{Path: c.path, Err: err})
				continue
			}
			sort.Strings(paths)
		}
		for _, p := range paths {
			if seen[p] {
				continue // the project is the home directory, say
			}
			seen[p] = true
			c := c
			c.path = p
			if c.format == formatByExt && !blockFile(p) {
				continue
			}
			servers, ok, errs := loadCandidate(&o, &d, c)
			res.Errors = append(res.Errors, errs...)
			if !ok {
				continue
			}
			o.Logger.Debug("read client config", "client", c.client, "path", p, "servers", len(servers), "errors", len(errs))
			res.Files = append(res.Files, File{Client: c.client, Path: p, Scope: c.scope, Servers: len(servers)})
			res.Servers = append(res.Servers, servers...)
		}
	}
	return res, nil
}

// blockFile reports whether a file in a Continue block directory is one
// Continue reads.
func blockFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// loadCandidate reads and decodes one file. ok is false when the file does
// not exist (not an error) or could not be parsed at all.
func loadCandidate(o *Options, d *dirs, c candidate) (servers []Server, ok bool, errs []error) {
	data, err := readFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, []error{&FileError{Path: c.path, Err: err}}
	}
	root, err := parse(c.format, c.path, data)
	if err != nil {
		return nil, false, []error{&FileError{Path: c.path, Err: err}}
	}
	fc := newFileCtx(o, d, c)
	if root.kind != kObject {
		if root.kind == kNull { // an empty YAML file
			return nil, true, nil
		}
		return nil, false, []error{&FileError{Path: c.path, Line: root.line, Err: fmt.Errorf("top level: want an object, got %s", root.kind)}}
	}
	servers = c.shape(fc, root)
	return servers, true, fc.errs
}

func newFileCtx(o *Options, d *dirs, c candidate) *fileCtx {
	sep := "/"
	if o.OS == "windows" {
		sep = `\`
	}
	scope := c.scope
	if scope == "" {
		scope = ScopeUser
	}
	return &fileCtx{
		client: c.client, path: c.path, scope: scope, project: c.project, lookup: o.Getenv,
		x: &expander{style: c.style, lookup: o.Getenv, home: d.home, workspace: c.project, sep: sep},
	}
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("is a directory")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	return data, nil
}

func parse(f format, path string, data []byte) (*node, error) {
	if f == formatByExt {
		f = formatOf(path)
	}
	switch f {
	case formatYAML:
		return parseYAML(data)
	case formatTOML:
		return parseTOML(data)
	}
	return parseJSONC(data)
}

func knownExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".jsonc", ".yaml", ".yml", ".toml":
		return true
	}
	return false
}

func formatOf(path string) format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return formatYAML
	case ".toml":
		return formatTOML
	}
	return formatJSONC
}

// Load reads the server declarations of one client config file named
// explicitly. The client is recognised from the path when it is a known
// client file (see [Discover]) and otherwise from the file's shape:
// `mcpServers` (Claude-style, or a Continue list), `servers` (VS Code
// mcp.json), `mcp.servers` (VS Code settings), `context_servers` (Zed),
// `mcp` (OpenCode), `extensions` (Goose), `mcp_servers` (Codex TOML). Bad
// entries are returned alongside the good ones, with an error that joins
// (errors.Join) one [*FileError] per problem, each naming the file.
func Load(path string, opts Options) ([]Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	d := newDirs(&o)
	data, err := readFile(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	c, known := matchPattern(path)
	if !known {
		c = candidate{format: formatOf(path), path: path}
	}
	root, err := parse(c.format, path, data)
	if err != nil && !known && !knownExt(path) {
		// No extension to go by: try the other formats before giving up,
		// and report the JSON error if none fits.
		for _, f := range []format{formatTOML, formatYAML} {
			if r, e := parse(f, path, data); e == nil && r.kind == kObject {
				root, err = r, nil
				break
			}
		}
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if root.kind != kObject {
		return nil, &FileError{Path: path, Line: root.line, Err: fmt.Errorf("top level: want an object, got %s", root.kind)}
	}
	if !known {
		if c, err = detectShape(path, root); err != nil {
			return nil, &FileError{Path: path, Err: err}
		}
	}
	c.path = path
	if c.scope == "" {
		c.scope = ScopeFile
	}
	fc := newFileCtx(&o, &d, c)
	servers := c.shape(fc, root)
	return servers, errors.Join(fc.errs...)
}

// detectShape picks a decoder for a file that is not at a known path.
func detectShape(path string, root *node) (candidate, error) {
	has := func(k string) bool { return root.get(k) != nil }
	switch {
	case has("mcp_servers"):
		return candidate{client: "codex", shape: shapeCodex}, nil
	case has("extensions"):
		return candidate{client: "goose", shape: shapeGoose}, nil
	case has("context_servers"):
		return candidate{client: "zed", shape: shapeZed}, nil
	case root.path("mcp", "servers") != nil:
		return candidate{client: "vscode", shape: shapeVSCodeSettings, style: styleVSCode}, nil
	case has("mcp"):
		return candidate{client: "opencode", shape: shapeOpenCode, style: styleOpenCode}, nil
	case has("servers"):
		return candidate{client: "vscode", shape: shapeVSCodeMCP, style: styleVSCode}, nil
	case has("projects") && has("mcpServers"):
		return candidate{client: "claude-code", shape: shapeClaudeJSON, style: styleClaudeCode}, nil
	case root.get("mcpServers") != nil && root.get("mcpServers").kind == kArray,
		root.path("experimental", "modelContextProtocolServers") != nil:
		return candidate{client: "continue", shape: shapeContinue, style: styleContinue}, nil
	case has("mcpServers"):
		// Claude-style JSON of unknown origin: resolve nothing, report any
		// placeholder.
		return candidate{client: "unknown", shape: shapeMCPServers, style: styleUnknown}, nil
	}
	return candidate{}, errors.New("no MCP server declarations recognised (want mcpServers, servers, mcp, context_servers, extensions or mcp_servers)")
}
