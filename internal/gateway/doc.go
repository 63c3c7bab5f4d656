// Package gateway is mcpwarden's MCP proxy core: one MCP endpoint in front
// of many upstream servers, on every transport and in every protocol
// revision, with every message passing through a [pipeline.Chain].
//
// # Shape
//
// Downstream, agents talk to a go-sdk [mcp.Server] that mcpwarden serves
// over stdio ([Gateway.ServeStdio], used by `mcpwarden wrap`) or Streamable
// HTTP ([Gateway.Handler], used by `mcpwarden gateway`). The HTTP handler
// serves revision 2025-11-25 and older as stateful sessions and revision
// 2026-07-28 as stateless requests on the same URL, picking by the
// MCP-Protocol-Version header.
//
// Upstream, each configured server gets a go-sdk [mcp.Client] and one
// connection, dialled by package upstream (stdio with a scrubbed
// environment, Streamable HTTP of either revision, or legacy SSE). A server
// that exits is restarted with backoff; calls in flight when it died fail
// with an error naming it.
//
// # Names
//
// Tools and prompts are namespaced "server" + separator + "name"
// ("github__create_issue"). Server names may not contain the separator, so
// a namespaced name splits back unambiguously and never changes when other
// servers are added or removed. Resources keep their URIs and are routed to
// the server that listed them, or whose template matches.
//
// # Revisions
//
// The downstream and upstream revisions are independent. The go-sdk
// negotiates each side. The gateway translates what differs between them:
// server-to-client requests (sampling, elicitation, roots) from a
// 2025-era server become multi round-trip input_required results for a
// 2026-07-28 client, and input_required results from a 2026-07-28 server
// become server-to-client requests for a 2025-era client. Progress tokens
// are rewritten per call so that notifications reach the right client.
//
// # Pipeline
//
// Every request and notification from an agent, every server-to-client
// request and notification from a server, and every result crosses the
// chain. A denied tools/call becomes a tool result with isError set and the
// reason as text; other denials become JSON-RPC errors with
// [pipeline.CodeDenied].
package gateway
