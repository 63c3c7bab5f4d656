package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// DefaultDocsURL is where rule documentation lives; SARIF helpUri, HTML and
// Markdown link each rule to DocsURL#anchor (see [RuleAnchor]).
const DefaultDocsURL = ProjectURL + "/blob/main/docs/scan.md"

// ProjectURL is mcpwarden's home page, named in SARIF as the tool's
// informationUri.
const ProjectURL = "https://github.com/mcpwarden/mcpwarden"

// RenderOptions tunes rendering. The zero value is valid: no colour,
// 100 columns, rule links to [DefaultDocsURL].
type RenderOptions struct {
	// Color turns on ANSI colour in the text format. Decide it with
	// [ColorMode.Enabled]; renderers never look at the terminal themselves,
	// so output is a pure function of the report and these options.
	Color bool
	// Width is the text format's wrap width in columns; 0 means 100.
	Width int
	// DocsURL overrides [DefaultDocsURL] for rule links.
	DocsURL string
}

func (o RenderOptions) width() int {
	if o.Width <= 0 {
		return 100
	}
	return max(o.Width, 60)
}

func (o RenderOptions) docsURL() string {
	if o.DocsURL == "" {
		return DefaultDocsURL
	}
	return o.DocsURL
}

type renderer func(w io.Writer, r *Report, opts RenderOptions) error

// formats is the one list of output formats, in the order help text shows.
var formats = []struct {
	name   string
	render renderer
}{
	{"text", renderText},
	{"json", renderJSON},
	{"sarif", renderSARIF},
	{"html", renderHTML},
	{"markdown", renderMarkdown},
}

// Formats lists the names [Render] accepts, default first.
func Formats() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.name
	}
	return out
}

// Render writes r to w in the named format. The report is not modified.
// Output is deterministic: the same report and options give the same bytes.
// Nothing is written if rendering fails.
func Render(w io.Writer, r *Report, format string, opts RenderOptions) error {
	if r == nil {
		return fmt.Errorf("render %s report: no report", format)
	}
	for _, f := range formats {
		if f.name == format {
			if err := validate(r); err != nil {
				return fmt.Errorf("render %s report: %w", format, err)
			}
			// Render to memory first so a failure never leaves half a
			// report (a truncated JSON or SARIF file) behind.
			var buf bytes.Buffer
			if err := f.render(&buf, normalized(r), opts); err != nil {
				return fmt.Errorf("render %s report: %w", format, err)
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return fmt.Errorf("write %s report: %w", format, err)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown report format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// ColorMode is the --color setting.
type ColorMode string

const (
	ColorAuto   ColorMode = "auto"   // colour when writing to a terminal and NO_COLOR is unset
	ColorAlways ColorMode = "always" // colour even into pipes and files
	ColorNever  ColorMode = "never"
)

// ParseColorMode parses a --color value; "" means auto.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(strings.ToLower(s)); m {
	case "":
		return ColorAuto, nil
	case ColorAuto, ColorAlways, ColorNever:
		return m, nil
	}
	return "", fmt.Errorf("unknown color mode %q (want auto, always or never)", s)
}

// Enabled decides whether output to w gets colour. An explicit always or
// never wins; auto colours only a terminal, and only when NO_COLOR is unset
// or empty (https://no-color.org) and TERM is not "dumb". getenv nil means
// os.Getenv.
func (m ColorMode) Enabled(w io.Writer, getenv func(string) string) bool {
	if getenv == nil {
		getenv = os.Getenv
	}
	return m.enabled(m == ColorAuto && IsTerminal(w), getenv)
}

func (m ColorMode) enabled(terminal bool, getenv func(string) string) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	return terminal
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}
