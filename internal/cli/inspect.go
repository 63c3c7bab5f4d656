package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"mcpwarden/internal/detect"
	"mcpwarden/internal/sanitize"
)

type inspectFlags struct {
	as        string
	jsonl     bool
	sanitize  bool
	spotlight string
	rules     []string
	disable   []string
	threshold float64
}

func newInspectCmd(stdio IO) *cobra.Command {
	var fl inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect [FILE|-]",
		Short: "Run the detection engine on raw content",
		Long: `Inspect runs mcpwarden's detection engine on raw content and prints its verdict
as JSON: flagged (true when the default policy would act), score, per-category
scores, findings[] and, with --sanitize, the sanitized text.

--as says what the content is: a description (tool, prompt or resource metadata,
server instructions), an argument value, or a result returned to the model.

With --jsonl, each input line is a JSON string or an object {"id": ..., "text": ...};
each output line is a compact verdict carrying the same id (the line number for
plain strings).

Exit status: 0 nothing flagged, 1 something flagged, 2 usage error, 3 some input
could not be inspected.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := detect.ParseKind(fl.as)
			if err != nil {
				return usageError("--as: %v", err)
			}
			spot, err := sanitize.ParseSpotlight(fl.spotlight)
			if err != nil {
				return usageError("--spotlight: %v", err)
			}
			if fl.spotlight != "" && fl.spotlight != "none" && !fl.sanitize {
				return usageError("--spotlight needs --sanitize")
			}
			opt := detect.Options{Disabled: fl.disable, Threshold: fl.threshold}
			for _, path := range fl.rules {
				data, err := os.ReadFile(path)
				if err != nil {
					return usageError("--rules: %v", err)
				}
				opt.Packs = append(opt.Packs, detect.PackSource{Name: path, Data: data})
			}
			eng, err := detect.New(opt)
			if err != nil {
				return usageError("loading rules: %v", err)
			}
			var san *sanitize.Sanitizer
			if fl.sanitize {
				if san, err = sanitize.New(sanitize.Options{Spotlight: spot, Secrets: eng.Secrets()}); err != nil {
					return err
				}
			}
			in, closeIn, err := openInput(stdio, args)
			if err != nil {
				return usageError("%v", err)
			}
			defer closeIn()
			r := inspectRun{eng: eng, san: san, kind: kind, out: stdio.Out}
			if fl.jsonl {
				err = r.lines(in)
			} else {
				err = r.whole(in)
			}
			if err != nil {
				return err
			}
			switch {
			case r.unscannable:
				return &ExitError{Code: ExitUnscannable, Err: errors.New("some input could not be inspected"), Silent: true}
			case r.flagged:
				return &ExitError{Code: ExitFailure, Silent: true}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.as, "as", "description", "what the content is: description, argument or result")
	f.BoolVar(&fl.jsonl, "jsonl", false, "read one JSON string or {\"id\",\"text\"} object per line")
	f.BoolVar(&fl.sanitize, "sanitize", false, "include the sanitized text in the output")
	f.StringVar(&fl.spotlight, "spotlight", "", "with --sanitize, mark the text as untrusted data: none, delimit or datamark")
	f.StringArrayVar(&fl.rules, "rules", nil, "user rule pack to load after the embedded one (repeatable)")
	f.StringArrayVar(&fl.disable, "disable", nil, "rule ID to switch off (repeatable)")
	f.Float64Var(&fl.threshold, "threshold", detect.DefaultThreshold, "score at which content is flagged")
	return cmd
}

func openInput(stdio IO, args []string) (io.Reader, func(), error) {
	if len(args) == 0 || args[0] == "-" {
		return stdio.In, func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

type inspectRun struct {
	eng         *detect.Engine
	san         *sanitize.Sanitizer
	kind        detect.Kind
	out         io.Writer
	flagged     bool
	unscannable bool
}

// output is one verdict as printed.
type output struct {
	ID json.RawMessage `json:"id,omitempty"`
	detect.Verdict
	Sanitized *string `json:"sanitized,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// MarshalJSON prints an error line as just its id and error, so that no
// consumer mistakes it for a clean verdict.
func (o output) MarshalJSON() ([]byte, error) {
	type plain output
	var v any = plain(o)
	if o.Error != "" {
		v = struct {
			ID    json.RawMessage `json:"id"`
			Error string          `json:"error"`
		}{o.ID, o.Error}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep quoted evidence such as <IMPORTANT> readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (r *inspectRun) verdict(id json.RawMessage, text string) output {
	v := r.eng.InspectText(r.kind, text)
	r.flagged = r.flagged || v.Flagged
	o := output{ID: id, Verdict: v}
	if r.san != nil {
		s, _ := r.san.Text(text)
		o.Sanitized = &s
	}
	return o
}

func (r *inspectRun) whole(in io.Reader) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	enc := json.NewEncoder(r.out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r.verdict(nil, string(data)))
}

// lines handles --jsonl. Lines of any length are accepted; a line that is
// not a JSON string or {"id","text"} object yields an error line and
// exit status 3, and the run goes on.
func (r *inspectRun) lines(in io.Reader) error {
	br := bufio.NewReader(in)
	enc := json.NewEncoder(r.out)
	enc.SetEscapeHTML(false)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if werr := enc.Encode(r.line(n, bytes.TrimSpace(line))); werr != nil {
				return fmt.Errorf("writing output: %w", werr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
	}
}

func (r *inspectRun) line(n int, line []byte) output {
	lineID := json.RawMessage(strconv.Itoa(n))
	var text string
	if line[0] == '"' {
		if err := json.Unmarshal(line, &text); err != nil {
			r.unscannable = true
			return output{ID: lineID, Error: fmt.Sprintf("line %d: %v", n, err)}
		}
		return r.verdict(lineID, text)
	}
	var obj struct {
		ID   json.RawMessage `json:"id"`
		Text *string         `json:"text"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&obj); err != nil || dec.More() {
		r.unscannable = true
		if err == nil {
			err = errors.New("trailing data after the JSON value")
		}
		return output{ID: lineID, Error: fmt.Sprintf("line %d: want a JSON string or {\"id\",\"text\"} object: %v", n, err)}
	}
	id := obj.ID
	if len(id) == 0 || string(id) == "null" {
		id = lineID
	}
	if obj.Text == nil {
		r.unscannable = true
		return output{ID: id, Error: fmt.Sprintf("line %d: object has no \"text\" string", n)}
	}
	return r.verdict(id, *obj.Text)
}
