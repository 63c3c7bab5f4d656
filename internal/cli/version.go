package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version reports the module version stamped by the go tool, so a binary
// built from a tagged checkout names its release without ldflags.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "devel"
	}
	return bi.Main.Version
}

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the mcpwarden version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(stdio.Out, "mcpwarden %s\n", version())
			return err
		},
	}
}
