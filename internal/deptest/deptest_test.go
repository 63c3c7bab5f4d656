// Package deptest checks the import layering of the module: transport →
// pipeline → controls → gateway/scan → cli → cmd, with imports pointing
// down only.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "mcpwarden/"

// rule forbids packages matching from (a prefix) importing packages matching
// to (a prefix), except the packages listed in allow.
type rule struct {
	name  string
	from  string
	to    string
	allow []string
}

var rules = []rule{
	{name: "nothing imports cmd", from: mod, to: mod + "cmd/"},
	{name: "only cmd imports cli", from: mod, to: mod + "internal/cli", allow: []string{mod + "cmd/mcpwarden"}},
	{name: "controls never import the CLI", from: mod + "internal/controls", to: mod + "internal/cli"},
	{name: "pipeline is the bottom layer", from: mod + "internal/pipeline", to: mod + "internal/", allow: []string{mod + "internal/finding"}},
	{name: "finding is a leaf", from: mod + "internal/finding", to: mod + "internal/"},
	{name: "controls do not import the gateway", from: mod, to: mod + "internal/gateway", allow: []string{mod + "internal/cli", mod + "internal/gateway", mod + "internal/demo"}},
	{name: "nothing but tests imports testbin", from: mod, to: mod + "internal/testbin"},
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "mcpwarden/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 {
		t.Fatalf("go list found %d packages; the check would prove nothing", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.from) || contains(r.allow, pkg) {
				continue
			}
			for _, imp := range imports {
				if strings.HasPrefix(imp, r.to) && imp != pkg && !contains(r.allow, imp) {
					t.Errorf("%s: %s imports %s", r.name, pkg, imp)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
