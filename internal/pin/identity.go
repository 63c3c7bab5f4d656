package pin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"mcpwarden/internal/launch"
)

// Identity says which server a lock entry belongs to, by what runs rather
// than by the name it is declared under.
type Identity struct {
	// Key is stable across upgrades of the same server, and keys the lock:
	// "npm:@scope/pkg", "pypi:pkg", "docker:ghcr.io/o/img",
	// "bin:/usr/local/bin/srv", "file:/home/u/srv/index.js",
	// "https://mcp.example.com/mcp".
	Key string `json:"key"`
	// ID adds what exactly runs: a version, an image digest or a content
	// hash ("npm:@scope/pkg@1.2.3", "pypi:pkg==1.0",
	// "docker:img@sha256:...", "bin:/usr/local/bin/srv@sha256:..."). A
	// different ID under the same Key is an upgrade, reported as
	// [IdentityChanged].
	ID string `json:"id"`
	// Pinned reports that ID names one immutable artifact. An unpinned
	// package can change under the same ID.
	Pinned bool `json:"pinned"`
	// Note explains an unpinned or partial identity.
	Note string `json:"note,omitempty"`
}

// IdentityOptions are the injectable parts of computing an identity.
type IdentityOptions struct {
	// LookPath finds a command on PATH; nil means exec.LookPath.
	LookPath func(string) (string, error)
	// Dir resolves relative paths (the server's cwd); "" means the
	// current directory.
	Dir string
}

// CommandIdentity identifies a stdio server from its launch command.
// Package runners (npx, uvx, pipx, docker run, ...) give the package and
// version; a script run by an interpreter gives the script's path and
// content hash; any other command gives the resolved binary and its
// content hash. When a file cannot be read, the identity without its hash
// is returned together with the error.
func CommandIdentity(command string, args []string, opts IdentityOptions) (Identity, error) {
	if command == "" {
		return Identity{}, errors.New("pin: empty command")
	}
	l := launch.Parse(command, args).Effective()
	switch {
	case l.Package != nil:
		return packageIdentity(l.Package, opts)
	case l.Script != "":
		return fileIdentity("file:", resolvePath(l.Script, opts.Dir))
	case l.Module != "":
		return Identity{Key: "pymod:" + l.Module, ID: "pymod:" + l.Module,
			Note: "a Python module from the interpreter's environment: its version is not in the command"}, nil
	case l.Shell != nil:
		sum := sha256.Sum256([]byte(l.Shell.Script))
		k := "shell:" + l.Shell.Kind + ":" + hex.EncodeToString(sum[:8])
		return Identity{Key: k, ID: k, Note: "a shell script: what it runs cannot be identified statically"}, nil
	}
	path, err := resolveCommand(l.Runner, command, opts)
	if err != nil {
		k := "cmd:" + command
		return Identity{Key: k, ID: k, Note: "command not found"}, fmt.Errorf("pin: resolve %q: %w", command, err)
	}
	return fileIdentity("bin:", path)
}

func packageIdentity(p *launch.Package, opts IdentityOptions) (Identity, error) {
	var id Identity
	switch p.Ecosystem {
	case launch.NPM, launch.JSR:
		id.Key = string(p.Ecosystem) + ":" + p.Name
		id.ID = id.Key
		if p.Version != "" {
			id.ID += "@" + p.Version
		}
	case launch.PyPI:
		id.Key = "pypi:" + p.Name
		id.ID = id.Key
		switch v := p.Version; {
		case v == "":
		case strings.HasPrefix(v, "==") || strings.ContainsAny(v[:1], "<>!~="):
			id.ID += v
		case v == "latest":
			id.ID += "@latest"
		default:
			id.ID += "==" + v
		}
	case launch.Docker:
		id.Key = "docker:" + p.Name
		id.ID = id.Key
		if p.Version != "" {
			id.ID += ":" + p.Version
		}
		if p.Digest != "" {
			id.ID += "@" + p.Digest
		}
	case launch.Git:
		id.Key = "git:" + strings.TrimPrefix(p.Name, "git+")
		id.ID = id.Key
		if p.Version != "" {
			id.ID += "#" + p.Version
		}
	case launch.Remote:
		u, err := NormalizeURL(p.Name)
		if err != nil {
			u = p.Name
		}
		id.Key, id.ID = "archive:"+u, "archive:"+u
	case launch.Local:
		return fileIdentity("file:", resolvePath(strings.TrimPrefix(p.Name, "file:"), opts.Dir))
	}
	id.Pinned = p.Pinned
	if !id.Pinned {
		id.Note = "no exact version or digest: the registry decides what runs"
	}
	return id, nil
}

// resolveCommand finds the binary a command runs: paths are taken
// relative to Dir, bare names are looked up on PATH.
func resolveCommand(runner, command string, opts IdentityOptions) (string, error) {
	if strings.ContainsAny(command, `/\`) {
		return resolvePath(command, opts.Dir), nil
	}
	look := opts.LookPath
	if look == nil {
		look = exec.LookPath
	}
	p, err := look(command)
	if err != nil {
		return "", err
	}
	return resolvePath(p, opts.Dir), nil
}

func resolvePath(p, dir string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(h, p[2:])
		}
	}
	if !filepath.IsAbs(p) {
		if dir == "" {
			dir, _ = os.Getwd()
		}
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

// fileIdentity is a path plus the SHA-256 of the file it names (symlinks
// followed).
func fileIdentity(prefix, path string) (Identity, error) {
	id := Identity{Key: prefix + path, ID: prefix + path}
	f, err := os.Open(path)
	if err != nil {
		id.Note = "file could not be read: no content hash"
		return id, fmt.Errorf("pin: hash %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		err = errors.New("is a directory")
	}
	h := sha256.New()
	if err == nil {
		_, err = io.Copy(h, f)
	}
	if err != nil {
		id.Note = "file could not be read: no content hash"
		return id, fmt.Errorf("pin: hash %s: %w", path, err)
	}
	id.ID += "@sha256:" + hex.EncodeToString(h.Sum(nil))
	id.Pinned = true
	return id, nil
}

// URLIdentity identifies a remote server by its normalised URL.
func URLIdentity(raw string) (Identity, error) {
	n, err := NormalizeURL(raw)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Key: n, ID: n, Note: "a remote server: what it runs can change at any time"}
	if u, _ := url.Parse(raw); u != nil && (u.User != nil || u.RawQuery != "") {
		id.Note += "; credentials and query dropped from the identity"
	}
	return id, nil
}

// NormalizeURL lower-cases the scheme and host, drops a default port,
// userinfo, the query and the fragment (which may carry secrets), and
// gives an empty path as "/".
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("pin: parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("pin: url %q: want http or https", redactURL(u))
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", fmt.Errorf("pin: url %q has no host", redactURL(u))
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + hostport + path, nil
}

func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}
