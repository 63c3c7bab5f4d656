package cli

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"mcpwarden/internal/authn"
	"mcpwarden/internal/config"
	"mcpwarden/internal/controls"
	"mcpwarden/internal/gateway"
)

func newWrapCmd(stdio IO) *cobra.Command {
	var (
		cfgPath string
		name    string
		envs    []string
		cwd     string
		lf      logFlags
		pf      profileFlags
	)
	cmd := &cobra.Command{
		Use:   "wrap [--config FILE] [--env NAME[=VALUE]]... -- CMD [ARGS...]",
		Short: "Guard one stdio MCP server, as a drop-in replacement for its command",
		Long: `Run CMD as a stdio MCP server behind mcpwarden, speaking MCP on this
process's stdin and stdout. Put it in front of the command in any MCP
client configuration:

    "command": "mcpwarden", "args": ["wrap", "--", "npx", "-y", "some-server@1.2.3"]

Tools and prompts keep their own names. The server does not inherit
mcpwarden's environment: it gets PATH, HOME, LANG and TMPDIR, plus each
--env NAME (copied from mcpwarden's environment) or --env NAME=VALUE.
The server runs in a sandbox: by default the strict profile for its command
(npx, uvx, node and python get their caches and package registries); the
profile flags change it, as for 'mcpwarden run'. Logs go to stderr. The
policy comes from --config when given, otherwise the safe defaults apply.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 || len(args) == 0 {
				return usageError("wrap needs the server command after --, for example: mcpwarden wrap -- npx -y server@1.0.0")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := lf.logger(stdio.Err)
			if err != nil {
				return err
			}
			cfg := config.Default()
			if cfgPath != "" {
				if cfg, err = config.Load(cfgPath); err != nil {
					if errors.Is(err, config.ErrNotFound) {
						return usageError("%v", err)
					}
					return configError(err)
				}
				if len(cfg.Servers) > 0 {
					log.Warn("wrap ignores the servers in the configuration and runs the command given after --", "config", cfgPath)
				}
				if cfg.Policy.Auth.Enabled() {
					log.Info("wrap ignores policy.auth: its only caller is the local user, over stdio", "config", cfgPath)
				}
			}
			if name == "" {
				name = serverName(args[0], args[1:])
			}
			env, err := parseEnvFlags(envs)
			if err != nil {
				return err
			}
			srv := config.Server{Name: name, Command: args[0], Args: args[1:], Env: env, Cwd: cwd}
			if pf.set() {
				p, _, err := pf.apply(args[0])
				if err != nil {
					return err
				}
				srv.Sandbox = &p
			}
			cfg.Servers = []config.Server{srv}
			cfg.ApplyDefaults()
			set, err := controls.Build(cmd.Context(), cfg, controls.Deps{Logger: log, Version: version()})
			if err != nil {
				return configError(err)
			}
			defer set.Close()
			// The caller is whoever started the agent that started us.
			identify := authn.IdentifyLocal(authn.LocalUser())
			g, err := gateway.New(gateway.Options{Config: cfg, Chain: set.Chain, Logger: log, Version: version(), Flat: true, Launcher: newLauncher(log, set), Identify: identify})
			if err != nil {
				return configError(err)
			}
			set.OnPinsChanged(g.ToolsChanged) // an approval shows at once
			g.Start(cmd.Context())
			defer g.Close()
			return g.ServeStdio(cmd.Context(), stdio.In, stdio.Out)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file for the policy (optional)")
	cmd.Flags().StringVar(&name, "name", "", "server name for logs and audit (default: derived from the command)")
	cmd.Flags().StringArrayVarP(&envs, "env", "e", nil, "pass NAME from mcpwarden's environment, or set NAME=VALUE, for the server (repeatable)")
	cmd.Flags().StringVar(&cwd, "cwd", "", "working directory of the server (inside a path the sandbox shows)")
	lf.register(cmd)
	pf.register(cmd)
	return cmd
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// serverName derives a stable name for a wrapped server from its command:
// the package for package runners (npx -y @scope/pkg@1 -> pkg), otherwise
// the program's base name.
func serverName(command string, args []string) string {
	base := filepath.Base(command)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	switch base {
	case "npx", "bunx", "uvx", "pipx", "pnpm", "yarn", "docker", "node", "python", "python3", "deno", "bun", "uv":
		for _, a := range args {
			if strings.HasPrefix(a, "-") || a == "run" || a == "dlx" || a == "exec" {
				continue
			}
			a = strings.TrimPrefix(a, "@")
			if i := strings.LastIndex(a, "/"); i >= 0 {
				a = a[i+1:]
			}
			if i := strings.IndexAny(a, "@=:"); i > 0 {
				a = a[:i]
			}
			a = strings.TrimSuffix(a, filepath.Ext(a))
			if a != "" {
				base = a
			}
			break
		}
	}
	n := strings.Trim(nameChars.ReplaceAllString(base, "-"), "-_")
	if n == "" {
		return "server"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

func parseEnvFlags(flags []string) (map[string]string, error) {
	env := make(map[string]string)
	for _, f := range flags {
		k, v, hasValue := strings.Cut(f, "=")
		if k == "" {
			return nil, usageError("--env %q: want NAME or NAME=VALUE", f)
		}
		if hasValue {
			env[k] = v
			continue
		}
		val, ok := os.LookupEnv(k)
		if !ok {
			return nil, usageError("--env %s: the variable is not set in mcpwarden's environment", k)
		}
		env[k] = val
	}
	return env, nil
}
