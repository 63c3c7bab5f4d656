package sandbox

import (
	"path/filepath"
	"regexp"
	"slices"
)

// Paths inside every sandbox.
const (
	SandboxHome = "/home/sandbox" // the private writable home; HOME points here
	SandboxTmp  = "/tmp"          // the private writable /tmp; TMPDIR points here
)

// builtins are the named profiles `mcpwarden run --profile NAME` accepts.
// Each is the strict default plus what the runner needs.
var builtins = map[string]func() Profile{
	"strict": DefaultProfile,
	"npx":    npxProfile,
	"uvx":    uvxProfile,
	"node":   nodeProfile,
	"python": pythonProfile,
}

// Builtin returns a built-in profile by name: strict, npx, uvx, node or
// python.
func Builtin(name string) (Profile, bool) {
	f, ok := builtins[name]
	if !ok {
		return Profile{}, false
	}
	return f(), true
}

// BuiltinNames lists the built-in profiles.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

var pythonName = regexp.MustCompile(`^python(3(\.\d+)?)?$`)

// DefaultFor returns the profile for a server configured without one: the
// strict default, or for a package runner (npx, uvx, node, python) the
// runner's built-in profile, which adds a per-server download cache and,
// for npx and uvx, egress to their package registry only.
func DefaultFor(command string) Profile {
	base := filepath.Base(command)
	switch {
	case base == "npx" || base == "npm":
		return npxProfile()
	case base == "uvx" || base == "uv":
		return uvxProfile()
	case base == "node" || base == "nodejs":
		return nodeProfile()
	case pythonName.MatchString(base):
		return pythonProfile()
	}
	return DefaultProfile()
}

func npxProfile() Profile {
	p := nodeProfile()
	p.Network = NetworkEgress
	p.Egress.Allow = []string{"registry.npmjs.org:443"}
	// The cache is per server (see Options.CacheDir): a shared one would
	// let one compromised server plant packages that another runs.
	p.Caches = []Cache{{Host: "npm", Path: ".npm"}}
	p.Env["npm_config_update_notifier"] = "false"
	p.Env["npm_config_fund"] = "false"
	p.Env["npm_config_audit"] = "false"
	p.Env["npm_config_yes"] = "true"
	return p
}

func uvxProfile() Profile {
	p := pythonProfile()
	p.Network = NetworkEgress
	p.Egress.Allow = []string{"pypi.org:443", "files.pythonhosted.org:443"}
	p.Caches = []Cache{{Host: "uv", Path: ".cache/uv"}}
	p.Env["UV_CACHE_DIR"] = SandboxHome + "/.cache/uv"
	// uv would otherwise download interpreters from GitHub; use the
	// system's, which is visible read-only.
	p.Env["UV_PYTHON_DOWNLOADS"] = "never"
	p.Env["UV_NO_PROGRESS"] = "1"
	p.Limits.Memory = 2 << 30
	return p
}

func nodeProfile() Profile {
	p := DefaultProfile()
	// V8 reserves and commits generously; 1 GiB is tight for real servers.
	p.Limits.Memory = 2 << 30
	p.Env = map[string]string{}
	return p
}

func pythonProfile() Profile {
	p := DefaultProfile()
	p.Env = map[string]string{"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
	return p
}
