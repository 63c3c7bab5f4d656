package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"mcpwarden/internal/pin"
	"mcpwarden/internal/report"
	"mcpwarden/internal/scan"
)

func newPinCmd(stdio IO) *cobra.Command {
	var (
		tf       targetFlags
		lockfile string
	)
	cmd := &cobra.Command{
		Use:   "pin [flags] [TARGET...] [-- CMD [ARGS...]]",
		Short: "Record the servers' tool, prompt and resource-template definitions in mcpwarden.lock",
		Long: `pin lists each target (as scan does: URLs, client configs, definitions files,
or a command after --; with no target, every server in this machine's client
configs) and records in the lockfile a SHA-256 over the RFC 8785 canonical JSON
of each tool, prompt and resource template and of the server instructions,
keyed by what runs (package and version, binary hash, URL). Existing entries
for other servers are kept. scan and the gateway compare with this file and
report every change as a rug pull, with a semantic diff.

Exit status: 0 written; 2 usage error; 3 some targets could not be listed
(the others are still pinned).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPin(cmd, args, &tf, lockfile, stdio)
		},
	}
	cmd.Flags().StringVar(&lockfile, "lockfile", pin.DefaultLockfile, "the lockfile to write")
	tf.register(cmd)

	var approveLock string
	var atf targetFlags
	approve := &cobra.Command{
		Use:   "approve SERVER[/TOOL] [TARGET...] [-- CMD [ARGS...]]",
		Short: "Accept the current definitions of a server, or of one tool, prompt or resource template",
		Long: `approve lists the server again, shows how it differs from the lockfile, and
accepts the change: for SERVER, everything (a new version included); for
SERVER/TOOL, that tool (or prompt, or resource template) only. SERVER is the
declared name, the lock key or the identity. Targets are as for pin; with none,
what a running gateway withheld (mcpwarden.lock.pending beside the lockfile)
is approved if it holds SERVER, else the client configs on this machine are
searched for SERVER. A running gateway picks the approval up without a restart.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
				return usageError("pin approve needs SERVER or SERVER/TOOL")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApprove(cmd, args, &atf, approveLock, stdio)
		},
	}
	approve.Flags().StringVar(&approveLock, "lockfile", pin.DefaultLockfile, "the lockfile to update")
	atf.register(approve)
	cmd.AddCommand(approve)
	return cmd
}

// listServers lists targets for pinning, without the analyses.
func listServers(cmd *cobra.Command, args, command []string, tf *targetFlags, stdio IO) (*scan.Result, error) {
	log, err := tf.lf.logger(stdio.Err)
	if err != nil {
		return nil, err
	}
	targets, err := tf.resolve(cmd.Context(), args, command)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, usageError("no MCP servers found: give a TARGET")
	}
	opts := tf.options(log)
	opts.ListOnly = true
	prog := progressFor(stdio.Err, report.ColorAuto, len(targets))
	if prog != nil {
		opts.Progress = prog
	}
	res, err := scan.Run(cmd.Context(), targets, opts)
	prog.Close()
	return res, err
}

func loadOrNewLock(path string) (*pin.Lock, error) {
	l, err := pin.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pin.NewLock(), nil
	}
	if err != nil {
		return nil, usageError("%v", err)
	}
	return l, nil
}

func runPin(cmd *cobra.Command, args []string, tf *targetFlags, lockfile string, stdio IO) error {
	lock, err := loadOrNewLock(lockfile)
	if err != nil {
		return err
	}
	targets, command := split(cmd, args)
	res, err := listServers(cmd, targets, command, tf, stdio)
	if err != nil {
		return err
	}
	pins := append([]scan.Pinned(nil), res.Pins...)
	sort.Slice(pins, func(i, j int) bool { return pins[i].Server < pins[j].Server })
	for _, p := range pins {
		changes, known := lock.Check(p.Lock)
		lock.Put(p.Lock)
		state := "pinned"
		if known && len(changes) == 0 {
			state = "unchanged"
		} else if known {
			state = "re-pinned"
		}
		fmt.Fprintf(stdio.Out, "%s %s (%s): %d tools, %d prompts, %d resource templates\n", state, p.Server, p.Lock.Key,
			len(p.Lock.Tools), len(p.Lock.Prompts), len(p.Lock.ResourceTemplates))
		if known {
			printChanges(stdio.Out, changes)
		}
		if p.ChangedDuringScan {
			fmt.Fprintf(stdio.Err, "mcpwarden: warning: %s changed its definitions between two listings; the first listing was pinned (run mcpwarden scan to see the change)\n", p.Server)
		}
	}
	if err := pin.Write(lockfile, lock); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "wrote %s (%d servers)\n", lockfile, len(lock.Servers))
	return unlisted(res.Report)
}

// unlisted reports targets that could not be listed (exit 3).
func unlisted(r *report.Report) error {
	un := r.Unscanned()
	if len(un) == 0 {
		return nil
	}
	var b strings.Builder
	for _, s := range un {
		fmt.Fprintf(&b, "\n  %s: %s", s.Name, s.Reason)
	}
	return &ExitError{Code: ExitUnscannable, Err: fmt.Errorf("%d targets could not be listed and were not pinned:%s", len(un), b.String())}
}

func printChanges(w io.Writer, changes []pin.Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c.String())
	}
}

func runApprove(cmd *cobra.Command, args []string, tf *targetFlags, lockfile string, stdio IO) error {
	target := args[0]
	targets, command := split(cmd, args)
	if len(targets) == 1 && len(command) == 0 {
		// A running gateway records what it withheld beside the lockfile;
		// approving that needs no second listing (the gateway notices the
		// new lockfile by itself).
		changes, found, err := pin.ApprovePending(lockfile, target)
		if err != nil {
			return usageError("%v", err)
		}
		if found {
			if len(changes) == 0 {
				fmt.Fprintf(stdio.Out, "approved %s: its definitions match what the gateway saw (now marked approved)\n", target)
			} else {
				fmt.Fprintf(stdio.Out, "approved %d changes for %s:\n", len(changes), target)
				printChanges(stdio.Out, changes)
			}
			fmt.Fprintf(stdio.Out, "wrote %s\n", lockfile)
			return nil
		}
	}
	lock, err := pin.Read(lockfile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return usageError("no lockfile %s: run mcpwarden pin first", lockfile)
		}
		return usageError("%v", err)
	}
	serverName, _, _ := strings.Cut(target, "/")
	// Prefer the lock's own knowledge of the server's name.
	if s, err := lock.Find(serverName); err == nil && s.Name != "" {
		serverName = s.Name
	}
	res, err := listServers(cmd, targets[1:], command, tf, stdio)
	if err != nil {
		return err
	}
	var cur *pin.ServerLock
	for _, p := range res.Pins {
		if p.Server == serverName || p.Lock.Key == serverName || p.Lock.Identity == serverName || p.Server == target {
			cur = p.Lock
			break
		}
	}
	if cur == nil {
		for _, p := range res.Pins {
			if strings.HasPrefix(target, p.Lock.Key+"/") || strings.HasPrefix(target, p.Lock.Identity+"/") {
				cur = p.Lock
			}
		}
	}
	if cur == nil {
		if err := unlisted(res.Report); err != nil {
			return err
		}
		return usageError("pin approve: no server %q among the targets", serverName)
	}
	accepted, err := lock.Approve(target, cur)
	if err != nil {
		return usageError("%v", err)
	}
	if len(accepted) == 0 {
		fmt.Fprintf(stdio.Out, "nothing to approve: %s matches the lockfile\n", target)
		return nil
	}
	fmt.Fprintf(stdio.Out, "approved %d changes for %s:\n", len(accepted), target)
	printChanges(stdio.Out, accepted)
	if err := pin.Write(lockfile, lock); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "wrote %s\n", lockfile)
	return nil
}
