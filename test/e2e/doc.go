// Package e2e holds mcpwarden's end-to-end tests: they build the real
// binary once and drive it as users and CI do, against real MCP peers —
// the official TypeScript SDK client and reference servers from npm
// (pinned in test/peers/package-lock.json) and go-sdk clients and servers.
//
// The npm peers come from `npm ci` in test/peers, which scripts/test runs.
// Without them the tests that need them skip, unless
// MCPWARDEN_REQUIRE_PEERS=1 (set by scripts/test), where they fail.
package e2e
