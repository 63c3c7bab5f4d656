// Package classify works out the risk of a string argument value: would
// it do something dangerous as a shell word, a file path, a URL or a SQL
// fragment, and does it carry a credential?
//
// Classifiers only describe; they enforce nothing. The gateway applies
// them to resolved argument values and decides by policy; the scanner
// uses them on schema defaults and examples.
//
//	r := classify.Path("..%252f..%252fetc/passwd")
//	// r.Risk == classify.Critical, r.Reasons[0].Code == "path.traversal"
//
// Every function is pure, safe for concurrent use and bounded in time
// and memory by the input length (decoding stops after a fixed number of
// rounds).
package classify

import (
	"fmt"
	"strings"
)

// Risk orders classifier results.
type Risk uint8

const (
	None Risk = iota
	Low
	Medium
	High
	Critical
)

var riskNames = [...]string{"none", "low", "medium", "high", "critical"}

func (r Risk) String() string {
	if int(r) < len(riskNames) {
		return riskNames[r]
	}
	return fmt.Sprintf("risk(%d)", r)
}

// MarshalText names the risk in JSON.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Reason is one finding of a classifier. Code is stable and dotted:
// "shell.substitution", "path.traversal", "url.internal".
type Reason struct {
	Code   string `json:"code"`
	Risk   Risk   `json:"risk"`
	Detail string `json:"detail"`
	// Offset is where in the input the reason applies, or -1.
	Offset int `json:"offset"`
}

// Result is a classifier's verdict on one value.
type Result struct {
	Kind    string   `json:"kind"` // "shell", "path", "url", "sql", "secret"
	Risk    Risk     `json:"risk"` // the highest reason's risk
	Reasons []Reason `json:"reasons,omitempty"`
}

func (r *Result) add(code string, risk Risk, offset int, format string, args ...any) {
	for _, x := range r.Reasons {
		if x.Code == code {
			return // one reason per code keeps results short and stable
		}
	}
	r.Reasons = append(r.Reasons, Reason{Code: code, Risk: risk, Detail: fmt.Sprintf(format, args...), Offset: offset})
	if risk > r.Risk {
		r.Risk = risk
	}
}

// Has reports whether the result carries a reason with the given code.
func (r Result) Has(code string) bool {
	for _, x := range r.Reasons {
		if x.Code == code {
			return true
		}
	}
	return false
}

// maxInput bounds the bytes a classifier looks at; longer values are
// classified on their first maxInput bytes and say so.
const maxInput = 64 << 10

func clipInput(r *Result, s string) string {
	if len(s) > maxInput {
		r.add(r.Kind+".truncated", Low, maxInput, "value longer than %d bytes; only the start was classified", maxInput)
		return s[:maxInput]
	}
	return s
}

// lower is strings.ToLower without allocating for ASCII lower-case input.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}
