// Package pin detects rug pulls: MCP tool, prompt and resource-template
// definitions, and server instructions, that change after they were
// trusted.
//
// Each definition is hashed with SHA-256 over its RFC 8785 canonical JSON
// form ([Canonicalize]), so formatting and key order never count as a
// change. Hashes and the definitions themselves are kept in a lockfile,
// mcpwarden.lock ([Lock], [Read], [Write]), keyed by a server identity
// that says what runs rather than what it is called: a package and its
// version, an image digest, a binary's path and content hash, or a
// normalised URL ([CommandIdentity], [URLIdentity]).
//
// [Compare] explains a change the way a reviewer would want it: a tool
// was added, a description changed (with a word diff), a parameter's type
// changed, a parameter became required, and so on. [Lock.Approve] accepts
// a change for a whole server or one tool, for `mcpwarden pin approve`.
//
// The inputs are plain MCP JSON, so both the scanner and the gateway use
// this package:
//
//	id, _ := pin.CommandIdentity("npx", []string{"-y", "@scope/pkg@1.2.3"}, pin.IdentityOptions{})
//	cur, _ := pin.Pin(pin.Snapshot{Name: "github", Identity: id, Tools: tools})
//	lock, _ := pin.Read("mcpwarden.lock")
//	changes, known := lock.Check(cur)
package pin
