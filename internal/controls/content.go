package controls

import (
	"fmt"
	"log/slog"

	"mcpwarden/internal/argcheck"
	"mcpwarden/internal/audit"
	"mcpwarden/internal/config"
	"mcpwarden/internal/detect"
	"mcpwarden/internal/dlp"
	"mcpwarden/internal/outguard"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/secrets"
	"mcpwarden/internal/taint"
	"mcpwarden/internal/toolguard"
)

// contentControls builds the content controls in chain order (see the
// package documentation) and what must be closed with them.
func contentControls(cfg *config.Config, eng *detect.Engine, log *slog.Logger) ([]pipeline.Interceptor, []func() error, error) {
	pol := &cfg.Policy
	var ics []pipeline.Interceptor
	var closers []func() error

	tg, err := toolguard.New(toolguard.Options{Tools: pol.Tools, Pinning: pol.Pinning, Lockfile: cfg.LockfilePath(), Servers: cfg.Servers, Engine: eng, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("setting up tool pinning: %w", err)
	}
	tg.Start()
	closers = append(closers, tg.Close)
	ics = append(ics, tg)

	ac, err := argcheck.New(argcheck.Options{Policy: pol.Arguments, Path: cfg.Path, Engine: eng, Logger: log})
	if err != nil {
		return nil, closers, fmt.Errorf("setting up argument validation: %w", err)
	}
	ics = append(ics, ac)

	labels, err := taint.NewLabeler(pol.Flows)
	if err != nil {
		return nil, closers, err
	}
	if pol.Flows.Action != config.FlowOff {
		fl, err := taint.New(taint.Options{Policy: pol.Flows, Labeler: labels, Logger: log})
		if err != nil {
			return nil, closers, err
		}
		ics = append(ics, fl)
	}

	d, err := dlp.New(dlp.Options{Policy: pol.Secrets, Labeler: labels, Secrets: eng.Secrets(), Logger: log})
	if err != nil {
		return nil, closers, err
	}
	if d != nil {
		ics = append(ics, d)
	}

	og, err := outguard.New(outguard.Options{Output: pol.Output, Secrets: pol.Secrets, Engine: eng, Logger: log})
	if err != nil {
		return nil, closers, err
	}
	ics = append(ics, og)
	return ics, closers, nil
}

// secretRedactor gives the audit log the detection engine's secret
// detector instead of its built-in fallback.
type secretRedactor struct{ d *secrets.Detector }

var _ audit.Redactor = secretRedactor{}

func (r secretRedactor) Redact(s string) string {
	out, _ := r.d.Redact(s)
	return out
}
