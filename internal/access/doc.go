// Package access decides who may use which tool, prompt and resource:
// the policy.access section of the gateway config, an ordered list of
// rules whose conditions are CEL expressions (https://cel.dev).
//
// # Rules
//
// Each rule has an id, a condition ("when") and a decision: allow, deny
// or approve (ask a human, see pipeline.ApproveVerdict). Rules are tried
// in file order and the first whose condition is true decides; when none
// matches, the section's default decides. Conditions are compiled when
// the configuration is loaded: one that does not compile, or does not
// yield a boolean, is a configuration error naming its file, line and
// column. A condition that fails while a request is evaluated (a missing
// argument, a wrong type, too much work) denies the request, naming the
// rule: the policy fails closed. Use has(args.x) to test for optional
// arguments.
//
// # Variables
//
//	caller.subject    string  who is calling (API key name, JWT subject, OS user)
//	caller.method     string  "api_key", "jwt", "stdio", or "" when anonymous
//	caller.groups     list    group or role names
//	caller.claims     map     every verified JWT claim
//	caller.anonymous  bool    no credentials (loopback without policy.auth)
//	server            string  configured upstream server name
//	method            string  tools/call, prompts/get, resources/read, ...
//	kind              string  tool, prompt or resource
//	name              string  tool or prompt name (as the server knows it), or resource URI
//	tool, prompt, resource    name, when kind says so, else ""
//	args              map     the call's arguments (decoded JSON)
//	annotations       object  readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title
//
// The standard CEL functions and macros are available, with the strings
// and sets extensions (lowerAscii, split, sets.contains, ...).
//
// # Lists
//
// tools/list, prompts/list, resources/list and resources/templates/list
// are filtered per caller: an item is shown when some request for it
// could be allowed or approved. The rules are evaluated with the
// arguments unknown (CEL partial evaluation), so a tool that is denied
// only for some arguments stays listed, and one that is denied whatever
// the arguments is hidden.
//
// # Scope
//
// Rules govern tools/call, prompts/get, resources/read,
// resources/subscribe and completion/complete. Protocol housekeeping
// (initialize, ping, logging/setLevel, notifications) and server-to-client
// requests are not subject to rules.
package access
