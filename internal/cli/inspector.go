package cli

import (
	"fmt"
	"log/slog"

	"mcpwarden/internal/detect"
	"mcpwarden/internal/scan"
)

// newInspector builds the detection engine the scan runs over every
// definition.
func newInspector(log *slog.Logger) (scan.Inspector, error) {
	e, err := detect.New(detect.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("detection engine: %w", err)
	}
	return scan.Engine(e), nil
}
