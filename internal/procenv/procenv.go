// Package procenv builds the environment of processes mcpwarden launches
// (MCP servers under scan, gateway upstreams, sandboxed commands).
//
// mcpwarden never passes its own environment through: a launched server
// gets a minimal base plus the variables declared for it, so API keys and
// tokens in the operator's shell cannot leak into a third-party server.
package procenv

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// BaseKeys are the variables copied from the parent into every launched
// process: enough to find programs and behave sanely, nothing secret.
var BaseKeys = []string{"PATH", "HOME", "LANG", "TMPDIR"}

// Lookup reads a variable of the parent environment; os.LookupEnv in
// production, a map in tests.
type Lookup func(key string) (string, bool)

// Build returns the environment for a launched process: BaseKeys taken
// from lookup (when set there), overridden and extended by declared. The
// result is sorted by key so that launches are reproducible. A nil lookup
// means os.LookupEnv.
func Build(lookup Lookup, declared map[string]string) []string {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := make(map[string]string, len(BaseKeys)+len(declared))
	for _, k := range BaseKeys {
		if v, ok := lookup(k); ok {
			env[k] = v
		}
	}
	for k, v := range declared {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Keys returns the variable names in an environment list, for logging which
// variables a process got without logging their values.
func Keys(env []string) []string {
	keys := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}

// Expand resolves ${env:NAME} references in a declared value from the
// parent environment. It is how a config hands one of the operator's
// variables to one server, explicitly, without passing the whole
// environment through. A reference to an unset variable is an error:
// starting a server with an empty credential hides the mistake.
func Expand(value string, lookup Lookup) (string, error) {
	if !strings.Contains(value, "${") {
		return value, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var b strings.Builder
	rest := value
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated reference %q", rest[i:])
		}
		ref := rest[i+2 : i+j]
		name, ok := strings.CutPrefix(ref, "env:")
		if !ok || name == "" {
			return "", fmt.Errorf("unsupported reference ${%s}; write ${env:NAME}", ref)
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("${env:%s} is not set in mcpwarden's environment", name)
		}
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
}
