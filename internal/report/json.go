package report

import (
	"encoding/json"
	"io"

	"mcpwarden/internal/finding"
)

// Summary is the JSON report's digest of the whole run, computed from the
// servers and findings so consumers need not recount.
type Summary struct {
	Servers    int                      `json:"servers"`
	Scanned    int                      `json:"scanned"`
	Static     int                      `json:"static"`
	NotScanned int                      `json:"not_scanned"`
	Reviewed   int                      `json:"reviewed"` // scanned + static
	Findings   int                      `json:"findings"`
	Suppressed int                      `json:"suppressed"`
	BySeverity map[string]int           `json:"by_severity"` // every severity, zeros included
	ByCategory map[finding.Category]int `json:"by_category"` // categories with findings only
	Complete   bool                     `json:"complete"`    // false when any server was not scanned
	Unscanned  []UnscannedServer        `json:"unscanned"`
}

// UnscannedServer names a server that could not be reviewed, and why.
type UnscannedServer struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Summarize computes r's [Summary].
func Summarize(r *Report) Summary {
	scanned, static, notScanned := r.statusCounts()
	all := r.AllFindings()
	s := Summary{
		Servers:    len(r.Servers),
		Scanned:    scanned,
		Static:     static,
		NotScanned: notScanned,
		Reviewed:   scanned + static,
		Findings:   len(all),
		Suppressed: r.Suppressed,
		BySeverity: make(map[string]int, len(severities)),
		ByCategory: make(map[finding.Category]int),
		Complete:   notScanned == 0,
		Unscanned:  []UnscannedServer{},
	}
	for _, sev := range severities {
		s.BySeverity[sev.String()] = 0
	}
	for _, f := range all {
		s.BySeverity[f.Severity.String()]++
		s.ByCategory[f.Category]++
	}
	for _, u := range r.Unscanned() {
		s.Unscanned = append(s.Unscanned, UnscannedServer{Name: u.Name, Reason: u.Reason})
	}
	return s
}

// jsonReport is the JSON document: the model plus its summary. Embedding
// keeps the model's fields at the top level.
type jsonReport struct {
	*Report
	Summary Summary `json:"summary"`
}

func renderJSON(w io.Writer, r *Report, _ RenderOptions) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Keep <, > and & as they are: the JSON is data, and \u003c escapes
	// would only make quoted evidence harder to read.
	enc.SetEscapeHTML(false)
	return enc.Encode(jsonReport{Report: r, Summary: Summarize(r)})
}
