// Package sandbox runs untrusted stdio MCP servers in a sandbox built from
// a per-server [Profile]: only the listed host paths are visible, home
// and /tmp are private, the network is none, egress (an allowlist enforced
// by [mcpwarden/internal/egress]) or host, and resources are bounded.
//
// Backends ([Backend]) are native (pure Go on Linux: user, mount, PID,
// IPC, UTS and network namespaces, a pivoted root of bind mounts,
// no_new_privs, dropped capabilities, Landlock, seccomp-bpf, rlimits and
// cgroup v2 when delegated), bubblewrap, gVisor and none. Auto-selection
// tries them for real; when the requested isolation cannot be set up,
// [Sandboxer.Command] fails with an error wrapping [ErrUnavailable] that
// names what is missing and what would work. Nothing falls back to none.
//
// The native backend re-executes the current binary as the sandbox init:
// mcpwarden's hidden `__sandbox-init` command calls [RunInit]. Tests make
// their test binary the init the same way, from TestMain, and point
// [Options.InitPath] at it. The init receives its plan through an
// inherited descriptor, never argv or the environment.
//
// Launching a server, as the gateway does:
//
//	sbx := sandbox.New(sandbox.Options{Logger: log, OnEgress: audit})
//	sb, err := sbx.Command(ctx, srv.Sandbox, sandbox.Spec{
//		Name: srv.Name, Path: srv.Command, Args: srv.Args,
//		Env: procenv.Build(nil, declared), Dir: srv.Dir,
//	})
//	if err != nil {
//		return err // the server must not start
//	}
//	defer sb.Close() // after the session (and so the process) has ended
//	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: sb.Cmd}, nil)
//	...
//	sb.SetCause("tools/call fetch #42") // labels the egress audit events
//
// `mcpwarden sandbox doctor` ([WriteDoctor]) reports what a machine can
// enforce; docs/sandbox.md has the threat model.
package sandbox
