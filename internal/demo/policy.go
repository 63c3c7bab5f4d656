package demo

import (
	_ "embed"
	"strings"
)

//go:embed policy.yaml
var policyTemplate string

// Policy returns the policy section that stops every attack of the demo
// server (the same as examples/demo.yaml), for the workspace at root. It
// starts with "policy:" and can follow a "servers:" section.
func Policy(root string) string {
	return strings.ReplaceAll(policyTemplate, "WORKSPACE", root)
}
