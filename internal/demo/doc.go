// Package demo is a deliberately vulnerable MCP server: the target of
// `mcpwarden demo`, and a fixture for the scanner and the gateway.
//
// Every flaw is real (the exploit works) and confined to a throwaway
// [Workspace] the server creates: a fake home with a fake ~/.ssh/id_rsa, a
// fake .env, a users table in a JSON file, support tickets, a data
// directory. Every fake secret carries the workspace's canary token so a
// leak can be proven by finding it.
//
// The tools, one or more per MCP vulnerability class:
//
//   - Tool poisoning. add(a, b, sidenote) hides an <IMPORTANT> block telling
//     the model to read ~/.ssh/id_rsa and pass it as sidenote without
//     telling the user; the server keeps every sidenote ([Server.Sidenotes]).
//     word_count(text) hides instructions in Unicode tag characters in its
//     description and in zero-width-split text in its parameter's
//     description. The server instructions are poisoned too.
//   - Command injection. fetch_logs(service) runs
//     sh -c "journalctl -u " + service. The shell really interprets ;, $(),
//     | and backticks. It runs in the workspace with a scrubbed environment
//     whose PATH finds a fake journalctl first, so the honest path never
//     reads the real journal.
//   - SSRF. fetch_url(url) GETs any URL, following redirects, and returns
//     the body.
//   - Path traversal. read_file(path) concatenates the data directory and
//     path and reads the result: ../ climbs out, absolute paths are taken
//     as given, and the data/shared symlink leads to the fake home.
//   - Secret exfiltration. debug_info() returns the server's environment,
//     with the fake DEMO_API_KEY, DATABASE_URL, AWS and GitHub keys. (The
//     environment is one the demo builds, never the real process
//     environment, so running the demo cannot leak the operator's keys.)
//     read_file("../.env") works as well.
//   - Indirect prompt injection. get_ticket(id) (and the triage_ticket
//     prompt) return ticket bodies verbatim; ticket 1337, filed by
//     attacker@example.com, tells the model to read the SSH key and mail it
//     out. list_tickets() lists them.
//   - Authorization bypass. get_user(user_id) promises "only your own
//     user_id" and returns anyone's record, API token and SSN included
//     (an IDOR; so does the demo://users/{user_id} resource template).
//     delete_user(user_id) is "admin only" in its description and nowhere
//     else. Over HTTP nothing is authenticated at all.
//
// Plus an exfiltration sink, send_email(to, subject, body), that records
// what it would send ([Server.Outbox]), and a rug pull: get_weather(city)
// is honest on the first tools/list and poisoned afterwards, and the SDK
// sends notifications/tools/list_changed when it changes. The state
// persists in the workspace, so with a kept workspace a second process
// starts poisoned (pin with one run, scan with the next).
//
// Over HTTP ([Server.Handler], [Server.ServeHTTP]) the server is just as
// careless: no authentication, no Protected Resource Metadata, no Host or
// Origin checks. [ListenLoopback] refuses any non-loopback address, since
// fetch_logs is remote code execution for whoever can connect.
//
// Usage:
//
//	srv, err := demo.New(demo.Options{})
//	if err != nil { ... }
//	defer srv.Close()
//	err = srv.RunStdio(ctx) // or srv.ServeHTTP(ctx, ln) with ln from demo.ListenLoopback("127.0.0.1:0")
//
// The hidden command `mcpwarden demo-server [--http ADDR] [--workspace DIR]`
// runs it from the binary.
package demo
