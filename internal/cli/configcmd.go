package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"mcpwarden/internal/config"
)

func newConfigCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and describe configuration files",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Validate a configuration file and report every problem with its line",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				if errors.Is(err, config.ErrNotFound) {
					return usageError("%v", err)
				}
				fmt.Fprintln(stdio.Err, err)
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not valid", args[0]), Silent: false}
			}
			names := make([]string, 0, len(cfg.Servers))
			for _, s := range cfg.Servers {
				names = append(names, s.Name)
			}
			fmt.Fprintf(stdio.Out, "%s: valid (version %d, %d servers%s)\n", args[0], cfg.Version, len(cfg.Servers), list(names))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the configuration file, for editors",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := stdio.Out.Write(config.Schema())
			return err
		},
	})
	return cmd
}

func list(names []string) string {
	if len(names) == 0 {
		return ""
	}
	s := ": "
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
