package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mcpwarden/internal/access"
	"mcpwarden/internal/apikey"
	"mcpwarden/internal/argcheck"
	"mcpwarden/internal/config"
	"mcpwarden/internal/limits"
	"mcpwarden/internal/pipeline"
)

func newPolicyCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, explain and prepare the gateway's access policy",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPolicyCheckCmd(stdio), newPolicyExplainCmd(stdio), newPolicyHashKeyCmd(stdio))
	return cmd
}

// loadPolicy loads a configuration for the policy commands: a missing or
// invalid file is reported like `config validate` does.
func loadPolicy(stdio IO, path string) (*config.Config, []byte, error) {
	if path == "" {
		return nil, nil, usageError("--config is required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return nil, nil, usageError("%v", err)
		}
		fmt.Fprintln(stdio.Err, err)
		return nil, nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not valid", path)}
	}
	data, _ := os.ReadFile(path)
	return cfg, data, nil
}

func compilePolicy(cfg *config.Config) (*access.Policy, error) {
	p, es := access.Compile(cfg.Policy.Access)
	if len(es) > 0 {
		return nil, es.Prefix("policy.access") // config.Load already checked; only a bug gets here
	}
	return p, nil
}

// where returns "FILE:LINE" for a key path, or "".
func where(file string, data []byte, path string) string {
	if line, _, ok := config.Position(data, path); ok {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return ""
}

func newPolicyCheckCmd(stdio IO) *cobra.Command {
	var (
		cfgPath string
		strict  bool
	)
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Compile every access rule and report mistakes, with their lines",
		Long: `Load the configuration, compile every rule of policy.access, and report
each one with its position, followed by warnings about rules that cannot
work as written: conditions that hold for every request or for none,
rules that can never be reached, a default that never applies.

Errors exit with status 1; warnings only with --strict.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			cfg, data, err := loadPolicy(stdio, cfgPath)
			if err != nil {
				return err
			}
			p, err := compilePolicy(cfg)
			if err != nil {
				return err
			}
			out := stdio.Out
			pol := cfg.Policy
			fmt.Fprintf(out, "%s: policy is valid\n", cfgPath)
			fmt.Fprintf(out, "\nauthentication: %s\n", authSummary(cfg))
			fmt.Fprintf(out, "\naccess: %s, default %s\n", count(p.Len(), "rule", "rules"), p.Default())
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for i, r := range pol.Access.Rules {
				fmt.Fprintf(tw, "  rules[%d]\t%s\t%s\t%s\n", i, r.ID, r.Decision, where(cfgPath, data, fmt.Sprintf("policy.access.rules[%d]", i)))
			}
			tw.Flush()
			fmt.Fprintf(out, "\nlimits: %s\n", limitsSummary(pol.Limits))
			lints := p.Lint()
			if len(lints) > 0 {
				fmt.Fprintln(out)
			}
			for _, l := range lints {
				pos := where(cfgPath, data, "policy.access.default")
				name := "default"
				if l.Index >= 0 {
					pos = where(cfgPath, data, fmt.Sprintf("policy.access.rules[%d]", l.Index))
					name = fmt.Sprintf("rules[%d] %s", l.Index, l.ID)
				}
				if pos != "" {
					pos += ": "
				}
				fmt.Fprintf(out, "%swarning: %s %s\n", pos, name, l.Msg)
			}
			if strict && len(lints) > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d warnings", len(lints))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit with status 1 on warnings too")
	return cmd
}

func authSummary(cfg *config.Config) string {
	a := cfg.Policy.Auth
	var parts []string
	if n := len(a.APIKeys); n > 0 {
		parts = append(parts, count(n, "API key", "API keys"))
	}
	if a.JWT != nil {
		parts = append(parts, "JWT from "+a.JWT.Issuer+" for "+strings.Join(a.JWT.Audience, ", "))
	}
	if len(parts) == 0 {
		return "off (callers are anonymous; the gateway listens on loopback only)"
	}
	return strings.Join(parts, "; ")
}

func limitsSummary(l limits.Config) string {
	var parts []string
	if l.MaxArgumentBytes > 0 {
		parts = append(parts, "arguments ≤ "+l.MaxArgumentBytes.String())
	}
	if l.MaxResultBytes > 0 {
		parts = append(parts, "results ≤ "+l.MaxResultBytes.String())
	}
	if n := len(l.Rate); n > 0 {
		parts = append(parts, count(n, "rate limit", "rate limits"))
	}
	if n := len(l.Tools); n > 0 {
		parts = append(parts, count(n, "per-tool entry", "per-tool entries"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func newPolicyExplainCmd(stdio IO) *cobra.Command {
	var (
		cfgPath, as, via, call, kind, annotations string
		groups, claims                            []string
		anonymous                                 bool
	)
	cmd := &cobra.Command{
		Use:   "explain --config FILE --as SUBJECT [--group G]... [--claim K=V]... --call SERVER/NAME [ARGS-JSON]",
		Short: "Show how the policy decides one request, and the rule behind it",
		Long: `Decide a request as the gateway would, without running it: a caller
(--as, --via, --group, --claim) calling SERVER/NAME with the arguments
given as a JSON object ("-" reads it from stdin). The output names the decision, the rule that made
it with its line, each rule's outcome, what the agent would read, whether
the tool is listed for this caller, and the limits that apply.

--kind prompt or --kind resource explains prompts/get or resources/read
(NAME is then the prompt name or the resource URI). Tool annotations are
not known offline; give them with --annotations '{"readOnlyHint":true}'.
Claims are JSON values when they parse as JSON, else strings.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if as == "" && !anonymous {
				return usageError("--as SUBJECT (or --anonymous) is required")
			}
			server, name, ok := strings.Cut(call, "/")
			if !ok || server == "" || name == "" {
				return usageError("--call SERVER/NAME is required, for example --call github/create_issue")
			}
			in := &access.Input{Server: server, Name: name, Annotations: access.DefaultAnnotations}
			switch kind {
			case access.KindTool:
				in.Kind, in.Method = kind, "tools/call"
			case access.KindPrompt:
				in.Kind, in.Method = kind, "prompts/get"
			case access.KindResource:
				in.Kind, in.Method = kind, "resources/read"
			default:
				return usageError("--kind %q: want tool, prompt or resource", kind)
			}
			if len(args) == 1 {
				raw := []byte(args[0])
				if args[0] == "-" {
					b, err := io.ReadAll(stdio.In)
					if err != nil {
						return fmt.Errorf("reading the arguments from stdin: %w", err)
					}
					raw = bytes.TrimSpace(b)
				}
				var obj map[string]any
				if err := json.Unmarshal(raw, &obj); err != nil {
					return usageError("ARGS-JSON must be a JSON object: %v", err)
				}
				in.Args = json.RawMessage(raw)
			}
			if annotations != "" {
				if err := json.Unmarshal([]byte(annotations), &in.Annotations); err != nil {
					return usageError("--annotations must be a JSON object of hints: %v", err)
				}
			}
			if !anonymous {
				in.Caller = pipeline.Identity{Subject: as, Method: via, Groups: groups, Claims: map[string]any{}}
				for _, c := range claims {
					k, v, ok := strings.Cut(c, "=")
					if !ok || k == "" {
						return usageError("--claim %q: want KEY=VALUE", c)
					}
					var val any
					if json.Unmarshal([]byte(v), &val) != nil {
						val = v
					}
					in.Caller.Claims[k] = val
				}
			}
			cfg, data, err := loadPolicy(stdio, cfgPath)
			if err != nil {
				return err
			}
			if _, ok := cfg.Server(server); !ok && len(cfg.Servers) > 0 {
				fmt.Fprintf(stdio.Err, "note: no server named %q in %s\n", server, cfgPath)
			}
			p, err := compilePolicy(cfg)
			if err != nil {
				return err
			}
			return explain(stdio.Out, cfgPath, data, cfg, p, in)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	f.StringVar(&as, "as", "", "the caller's subject (API key name, JWT subject)")
	f.StringVar(&via, "via", "api_key", "how the caller authenticated: api_key, jwt or stdio")
	f.BoolVar(&anonymous, "anonymous", false, "explain for an unauthenticated caller")
	f.StringArrayVar(&groups, "group", nil, "a group of the caller (repeatable)")
	f.StringArrayVar(&claims, "claim", nil, "a claim of the caller, KEY=VALUE (repeatable)")
	f.StringVar(&call, "call", "", "the request: SERVER/NAME")
	f.StringVar(&kind, "kind", access.KindTool, "tool, prompt or resource")
	f.StringVar(&annotations, "annotations", "", "the tool's annotations as JSON, e.g. '{\"readOnlyHint\":true}'")
	return cmd
}

func explain(out io.Writer, file string, data []byte, cfg *config.Config, p *access.Policy, in *access.Input) error {
	ex := p.Explain(in)
	res := ex.Result
	who := in.Caller.Subject
	if who == "" {
		who = "(anonymous)"
	} else {
		who += " (" + in.Caller.Method + ")"
	}
	if len(in.Caller.Groups) > 0 {
		who += " groups " + strings.Join(in.Caller.Groups, ", ")
	}
	args := string(in.Args)
	if args == "" {
		args = "{}"
	}
	fmt.Fprintf(out, "caller:    %s\n", who)
	fmt.Fprintf(out, "request:   %s %s/%s %s\n", in.Method, in.Server, in.Name, args)
	fmt.Fprintf(out, "decision:  %s\n", res.Decision)
	rule := res.Rule
	if res.Index >= 0 {
		if pos := where(file, data, fmt.Sprintf("policy.access.rules[%d]", res.Index)); pos != "" {
			rule += fmt.Sprintf("  (policy.access.rules[%d], %s)", res.Index, pos)
		}
	} else if pos := where(file, data, "policy.access.default"); pos != "" {
		rule += "  (policy.access.default, " + pos + ")"
	} else {
		rule += "  (no rules match and no default is set: allow)"
	}
	fmt.Fprintf(out, "rule:      %s\n", rule)
	if res.Err != nil {
		fmt.Fprintf(out, "error:     %v\n", res.Err)
	}
	switch res.Decision {
	case access.Deny:
		fmt.Fprintf(out, "reason:    %s\n", res.Reason)
		fmt.Fprintf(out, "agent sees: mcpwarden denied this request (rule %s): %s\n", res.Rule, res.Reason)
	case access.Approve:
		fmt.Fprintf(out, "reason:    %s\n", res.Reason)
		fmt.Fprintf(out, "the user is asked to approve it; without approval: mcpwarden denied this request (rule %s)\n", res.Rule)
	}
	if len(ex.Steps) > 0 {
		fmt.Fprintln(out, "rules:")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, s := range ex.Steps {
			outcome := s.Outcome
			if s.Err != nil {
				outcome += ": " + s.Err.Error()
			}
			fmt.Fprintf(tw, "  rules[%d]\t%s\t%s\t%s\n", s.Index, s.ID, s.Decision, outcome)
		}
		tw.Flush()
	}
	listed, _ := p.Visible(&access.Input{Caller: in.Caller, Server: in.Server, Method: in.Method, Kind: in.Kind, Name: in.Name, Annotations: in.Annotations}, access.Unknowns{Args: true})
	if listed {
		fmt.Fprintf(out, "listed:    yes (%s shows it to this caller)\n", listMethod(in.Kind))
	} else {
		fmt.Fprintf(out, "listed:    no (%s hides it from this caller)\n", listMethod(in.Kind))
	}
	if cfg.Policy.Limits.Enabled() {
		lim, err := limits.New(limits.Options{Config: cfg.Policy.Limits})
		if err != nil {
			return err
		}
		if ls := lim.Explain(in.Server, in.Name); len(ls) > 0 {
			fmt.Fprintln(out, "limits:")
			for _, l := range ls {
				fmt.Fprintf(out, "  %s\n", l)
			}
		}
		if n := int64(len(in.Args)); in.Kind != access.KindResource {
			if max, key := lim.ArgumentLimit(in.Server, in.Name); max > 0 && n > max {
				fmt.Fprintf(out, "overall:   deny (rule %s): the arguments are %d bytes, more than the %d allowed by %s\n", limits.RuleArgumentSize, n, max, key)
				return nil
			}
		}
	}
	if in.Kind == access.KindTool && len(cfg.Policy.Arguments.Tools) > 0 {
		return explainArguments(out, cfg, in, res.Decision == access.Deny)
	}
	return nil
}

// explainArguments runs the policy's argument rules (path_root, url,
// command, pattern, deny_findings, ...) on the arguments, as the gateway
// would. The tool's inputSchema is not known offline, so it is not
// checked; paths are resolved on this machine and hosts looked up.
func explainArguments(out io.Writer, cfg *config.Config, in *access.Input, denied bool) error {
	ac, err := argcheck.New(argcheck.Options{Policy: cfg.Policy.Arguments, Path: cfg.Path})
	if err != nil {
		// The gateway would refuse to start with these rules here (a
		// path_root that does not exist on this machine, say).
		fmt.Fprintf(out, "arguments: not checked on this machine: %v\n", err)
		return nil
	}
	args := in.Args
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	params, _ := json.Marshal(map[string]any{"arguments": args}) // the rules read only the arguments
	c := &pipeline.Call{Direction: pipeline.ToServer, Method: "tools/call", Server: in.Server, Name: in.Name, Params: params, Caller: in.Caller}
	v, err := ac.Request(context.Background(), c)
	switch {
	case err != nil:
		fmt.Fprintf(out, "arguments: deny: the argument rules could not run: %v\n", err)
		if !denied {
			fmt.Fprintf(out, "overall:   deny (the control fails closed)\n")
		}
	case v.Deny:
		fmt.Fprintf(out, "arguments: deny (rule %s): %s\n", v.Rule, v.Reason)
		if !denied {
			fmt.Fprintf(out, "overall:   deny (rule %s); the agent sees: mcpwarden denied this request (rule %s): %s\n", v.Rule, v.Rule, v.Reason)
		}
	default:
		fmt.Fprintf(out, "arguments: the policy's argument rules pass (the tool's inputSchema is checked at run time)\n")
	}
	return nil
}

func listMethod(kind string) string {
	switch kind {
	case access.KindPrompt:
		return "prompts/list"
	case access.KindResource:
		return "resources/list"
	}
	return "tools/list"
}

func newPolicyHashKeyCmd(stdio IO) *cobra.Command {
	var (
		fresh bool
		name  string
	)
	cmd := &cobra.Command{
		Use:   "hash-key [--new] [--name NAME]",
		Short: "Make an API key, or hash one read from stdin, for policy.auth.api_keys",
		Long: `Print the hash to store in policy.auth.api_keys for an API key. With --new,
make a fresh random key and print it once: give it to the caller, who
sends it as "Authorization: Bearer <key>". Without --new, read the key from
the first line of standard input (never from the command line, where it
would end up in the shell's history).

The configuration holds only the hash; the key itself is not recoverable
from it.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			key := ""
			if fresh {
				key = apikey.New()
			} else {
				line, err := bufio.NewReader(stdio.In).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("reading the key from stdin: %w", err)
				}
				key = strings.TrimRight(line, "\r\n")
				if key == "" {
					return usageError("no key on stdin; pipe one in, or pass --new to make one")
				}
				if err := apikey.Check(key); err != nil {
					return usageError("%v", err)
				}
			}
			if name == "" {
				name = "CALLER"
			}
			out := stdio.Out
			if fresh {
				fmt.Fprintf(out, "key:  %s\n", key)
				fmt.Fprintln(stdio.Err, "Give the key to the caller now: it is not stored anywhere and cannot be shown again.")
			}
			fmt.Fprintf(out, "hash: %s\n\n", apikey.Hash(key))
			fmt.Fprintf(out, "policy:\n  auth:\n    api_keys:\n      - name: %s\n        hash: %s\n", name, apikey.Hash(key))
			return nil
		},
	}
	cmd.Flags().BoolVar(&fresh, "new", false, "make a new random key")
	cmd.Flags().StringVar(&name, "name", "", "the caller's name, for the printed config snippet")
	return cmd
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
