package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mcpwarden/internal/audit"
)

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	db, jsonl string
	format    string
}

func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "audit SQLite database (default "+audit.DefaultPath()+")")
	cmd.Flags().StringVar(&f.jsonl, "jsonl", "", "audit JSONL log, instead of the database")
	cmd.Flags().StringVar(&f.format, "format", "text", "output format: text or json")
}

func (f *auditFlags) check() error {
	if f.db != "" && f.jsonl != "" {
		return usageError("--db and --jsonl name two logs; give one")
	}
	if f.format != "text" && f.format != "json" {
		return usageError("--format %q: want text or json", f.format)
	}
	return nil
}

// open opens the log the flags name. A missing log is a failure (exit 1),
// not a usage error: the path may be right and nothing recorded yet.
func (f *auditFlags) open(ctx context.Context) (audit.Source, string, error) {
	if f.jsonl != "" {
		src, err := audit.OpenJSONL(f.jsonl)
		return src, f.jsonl, openErr(err)
	}
	path := f.db
	if path == "" {
		path = audit.DefaultPath()
	}
	src, err := audit.OpenSQLite(ctx, path)
	return src, path, openErr(err)
}

func openErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%w (nothing recorded yet, or the path is wrong)", err)}
	}
	return err
}

// recordWriter prints records in the chosen format.
func (f *auditFlags) recordWriter(stdio IO) func(*audit.Record) error {
	if f.format == "json" {
		jw := audit.NewJSONWriter(stdio.Out)
		return jw.Write
	}
	return func(r *audit.Record) error { return audit.WriteText(stdio.Out, r) }
}

func newAuditCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify, query and follow the audit log of gateway calls",
		Long: "The gateway records every call in a hash-chained audit log (SQLite by default,\n" +
			"at " + audit.DefaultPath() + ", or JSONL). These commands read it; they never write.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAuditVerifyCmd(stdio), newAuditQueryCmd(stdio), newAuditTailCmd(stdio))
	return cmd
}

func newAuditVerifyCmd(stdio IO) *cobra.Command {
	var f auditFlags
	var head string
	cmd := &cobra.Command{
		Use:   "verify [--db FILE | --jsonl FILE] [--head SEQ:HASH]",
		Short: "Check the hash chain and name the first changed, removed or reordered record",
		Long: "verify recomputes every record's hash and the links between records. It exits 0\n" +
			"and prints the chain head if the log is intact, and exits 1 naming the first bad\n" +
			"record otherwise. Keep the printed head somewhere else and pass it back with\n" +
			"--head to also catch records cut off the end of the log.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			anchor, err := parseHead(head)
			if err != nil {
				return err
			}
			src, path, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer src.Close()
			got, err := audit.Verify(cmd.Context(), src, anchor)
			var ce *audit.ChainError
			if err != nil && !errors.As(err, &ce) {
				return err
			}
			if f.format == "json" {
				out := map[string]any{"log": path, "ok": ce == nil, "records": got.Seq, "head": got}
				if ce != nil {
					out["bad_seq"], out["reason"] = ce.Seq, ce.Reason
					if ce.Line > 0 {
						out["line"] = ce.Line
					}
				}
				if err := json.NewEncoder(stdio.Out).Encode(out); err != nil {
					return err
				}
			} else if ce == nil {
				fmt.Fprintf(stdio.Out, "ok: %s: %d records verified, head %s\n", path, got.Seq, got)
			}
			if f.jsonl == "" {
				// Say so when records exist that verify could not see.
				if stopped, err := audit.StoppedQueues(path); err == nil && len(stopped) > 0 {
					what := fmt.Sprintf("%d queue files of stopped gateways hold", len(stopped))
					if len(stopped) == 1 {
						what = "a queue file of a stopped gateway holds"
					}
					fmt.Fprintf(stdio.Err, "note: %s records not yet in the database (%s); the next gateway to open it indexes them\n", what, strings.Join(stopped, ", "))
				}
			}
			if ce != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("audit log %s is broken at %w (the %d records before it verify)", path, ce, got.Seq)}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&head, "head", "", "anchor SEQ:HASH printed by an earlier verify; the log must still reach it")
	return cmd
}

func parseHead(s string) (audit.Head, error) {
	if s == "" {
		return audit.Head{}, nil
	}
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(hash) != len(audit.ZeroHash) || strings.Trim(hash, "0123456789abcdef") != "" {
		return audit.Head{}, usageError("--head %q: want SEQ:HASH as printed by audit verify", s)
	}
	return audit.Head{Seq: n, Hash: hash}, nil
}

// filterFlags are the record filters of query and tail. They are turned
// into key=value terms so that flags and positional terms share one
// parser.
type filterFlags struct {
	values map[string]*string
}

func (ff *filterFlags) register(cmd *cobra.Command) {
	ff.values = map[string]*string{}
	help := map[string]string{
		"caller":   "caller subject",
		"server":   "upstream server name",
		"tool":     "tool or prompt name, or resource URI",
		"method":   "JSON-RPC method, e.g. tools/call",
		"session":  "MCP session ID",
		"call_id":  "call ID (ties a request record to its decision record)",
		"kind":     "record kind: request or decision",
		"decision": "allow, deny, rewrite or approve",
		"rule":     "rule ID that took part in the decision",
		"since":    "records at or after: RFC 3339, 2025-06-01, @unix, today, or an age such as 15m, 2h, 7d",
		"until":    "records before (same forms as --since)",
	}
	for _, k := range audit.FilterKeys() {
		h, ok := help[k]
		if !ok {
			continue // after and limit have their own flags
		}
		v := new(string)
		ff.values[k] = v
		cmd.Flags().StringVar(v, strings.ReplaceAll(k, "_", "-"), "", h)
	}
}

// filter combines the positional key=value terms and the flags.
func (ff *filterFlags) filter(args []string, now time.Time) (audit.Filter, error) {
	f, err := audit.ParseFilter(args, now)
	if err != nil {
		return audit.Filter{}, usageError("%v", err)
	}
	given := map[string]bool{}
	for _, a := range args {
		k, _, _ := strings.Cut(a, "=")
		given[strings.TrimSpace(k)] = true
	}
	for _, k := range audit.FilterKeys() {
		v := ff.values[k]
		if v == nil || *v == "" {
			continue
		}
		flag := "--" + strings.ReplaceAll(k, "_", "-")
		if given[k] {
			return audit.Filter{}, usageError("%s and the term %s=... both filter on %s; give one", flag, k, k)
		}
		if err := f.Set(k, *v, now); err != nil {
			return audit.Filter{}, usageError("%s: %s", flag, strings.TrimPrefix(err.Error(), k+": "))
		}
	}
	if err := f.Validate(); err != nil {
		return audit.Filter{}, usageError("%v", err)
	}
	return f, nil
}

// openFiltered checks the flags, builds the filter and opens the log, in
// that order, so that usage errors come before a missing log.
func openFiltered(ctx context.Context, f *auditFlags, ff *filterFlags, args []string) (audit.Source, audit.Filter, error) {
	if err := f.check(); err != nil {
		return nil, audit.Filter{}, err
	}
	flt, err := ff.filter(args, time.Now())
	if err != nil {
		return nil, audit.Filter{}, err
	}
	src, _, err := f.open(ctx)
	return src, flt, err
}

func newAuditQueryCmd(stdio IO) *cobra.Command {
	var f auditFlags
	var ff filterFlags
	var limit int
	cmd := &cobra.Command{
		Use:   "query [flags] [key=value ...]",
		Short: "List audit records matching filters, oldest first",
		Long: "query lists the records that match every filter, oldest first. Filters are\n" +
			"flags or key=value terms (caller=alice decision=deny since=7d).",
		Example: "  mcpwarden audit query --decision deny --since 24h\n" +
			"  mcpwarden audit query caller=alice server=fs --format json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageError("--limit %d: must not be negative", limit)
			}
			src, flt, err := openFiltered(cmd.Context(), &f, &ff, args)
			if err != nil {
				return err
			}
			defer src.Close()
			if flt.Limit == 0 {
				flt.Limit = limit
			}
			_, err = src.Scan(cmd.Context(), flt, f.recordWriter(stdio))
			return err
		},
	}
	f.register(cmd)
	ff.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many records (0: no limit)")
	return cmd
}

func newAuditTailCmd(stdio IO) *cobra.Command {
	var f auditFlags
	var ff filterFlags
	var n int
	var follow bool
	cmd := &cobra.Command{
		Use:   "tail [-f] [-n N] [flags] [key=value ...]",
		Short: "Show the newest audit records matching filters, and follow new ones with -f",
		Example: "  mcpwarden audit tail -f --decision deny\n" +
			"  mcpwarden audit tail -n 50 caller=alice",
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return usageError("-n %d: must not be negative", n)
			}
			src, flt, err := openFiltered(cmd.Context(), &f, &ff, args)
			if err != nil {
				return err
			}
			defer src.Close()
			return audit.Tail(cmd.Context(), src, flt, audit.TailOptions{N: n, Follow: follow}, f.recordWriter(stdio))
		},
	}
	f.register(cmd)
	ff.register(cmd)
	cmd.Flags().IntVarP(&n, "lines", "n", 10, "how many of the newest matching records to show first")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new records as they are committed, until interrupted")
	return cmd
}
