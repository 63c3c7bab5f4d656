package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"mcpwarden/internal/finding"
)

// SARIF 2.1.0 output, shaped for code-scanning dashboards: one run, the
// rules that fired, one result per finding with a stable fingerprint, and
// an invocation that says the run was incomplete when servers were not
// scanned, so a dashboard never shows a partial scan as clean.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// fingerprintKey versions the fingerprint recipe; change the suffix if
	// the recipe ever changes, so old alerts are not silently re-keyed.
	fingerprintKey = "mcpwarden/v1"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	ShortDescription     sarifMessage       `json:"shortDescription"`
	FullDescription      sarifMessage       `json:"fullDescription"`
	HelpURI              string             `json:"helpUri"`
	Help                 *sarifMessage      `json:"help,omitempty"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
	Properties           map[string]any     `json:"properties"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	StartTimeUTC               string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC                 string              `json:"endTimeUtc,omitempty"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
	// Locations say which server could not be scanned.
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifMessage  `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevel maps a severity to a SARIF level.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub code scanning's numeric severity property:
// ≥9 critical, 7–8.9 high, 4–6.9 medium, 0.1–3.9 low.
func securitySeverity(s finding.Severity) string {
	return [...]string{"0.0", "2.0", "5.5", "8.0", "9.5"}[s]
}

func renderSARIF(w io.Writer, r *Report, o RenderOptions) error {
	servers := make(map[string]Server, len(r.Servers))
	for _, s := range r.Servers {
		if _, dup := servers[s.Name]; !dup {
			servers[s.Name] = s
		}
	}
	all := r.AllFindings()
	rules, index := sarifRules(r, all, o.docsURL())

	results := make([]sarifResult, 0, len(all))
	for _, f := range all {
		results = append(results, sarifResultFor(f, index[f.RuleID], servers))
	}

	inv := sarifInvocation{ExecutionSuccessful: len(r.Unscanned()) == 0}
	if !r.StartedAt.IsZero() {
		inv.StartTimeUTC = r.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if !r.FinishedAt.IsZero() {
		inv.EndTimeUTC = r.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	for _, s := range r.Unscanned() {
		reason := s.Reason
		if reason == "" {
			reason = "no reason recorded"
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:     "error",
			Message:   sarifMessage{Text: fmt.Sprintf("server %q was NOT SCANNED: %s", s.Name, revealed(reason, false))},
			Locations: []sarifLocation{serverLocation(s, "")},
		})
	}

	driver := sarifDriver{Name: "mcpwarden", Version: r.Tool.Version, InformationURI: ProjectURL, Rules: rules}
	if r.Tool.Name != "" {
		driver.Name = r.Tool.Name
	}
	scanned, static, notScanned := r.statusCounts()
	log := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs: []sarifRun{{
			Tool:        sarifTool{Driver: driver},
			Invocations: []sarifInvocation{inv},
			Results:     results,
			Properties: map[string]any{
				"mcpwarden": map[string]any{
					"schemaVersion":     r.SchemaVersion,
					"rulePacks":         nonNil(r.Tool.RulePacks),
					"suppressed":        r.Suppressed,
					"serversScanned":    scanned,
					"serversStatic":     static,
					"serversNotScanned": notScanned,
					"serversDeclared":   len(r.Servers),
				},
			},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// sarifRules lists every rule that produced a finding, sorted by ID, with
// metadata from r.Rules when the scanner supplied it and from the first
// finding otherwise. It also returns each rule's index.
func sarifRules(r *Report, all []finding.Finding, docs string) ([]sarifRule, map[string]int) {
	known := make(map[string]Rule, len(r.Rules))
	for _, ru := range r.Rules {
		known[ru.ID] = ru
	}
	first := make(map[string]finding.Finding)
	var ids []string
	for _, f := range all {
		if _, ok := first[f.RuleID]; !ok {
			first[f.RuleID] = f
			ids = append(ids, f.RuleID)
		}
	}
	slices.Sort(ids)
	rules := make([]sarifRule, 0, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
		ru, ok := known[id]
		if !ok {
			f := first[id]
			ru = Rule{ID: id, Category: f.Category, Severity: f.Severity, Summary: f.Title, Detail: f.Detail}
		}
		short := oneLine(revealed(ru.Summary, false))
		if short == "" {
			short = id
		}
		full := oneLine(revealed(ru.Detail, false))
		if full == "" {
			full = short
		}
		help := docs + "#" + RuleAnchor(id)
		rules = append(rules, sarifRule{
			ID:                   id,
			Name:                 ruleName(id),
			ShortDescription:     sarifMessage{Text: short},
			FullDescription:      sarifMessage{Text: full},
			HelpURI:              help,
			Help:                 &sarifMessage{Text: full + " See " + help, Markdown: mdText(full) + " See [" + id + "](" + help + ")."},
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(ru.Severity)},
			Properties: map[string]any{
				"tags":              []string{"security", "mcp", string(ru.Category)},
				"security-severity": securitySeverity(ru.Severity),
				"category":          ru.Category,
			},
		})
	}
	return rules, index
}

func sarifResultFor(f finding.Finding, ruleIndex int, servers map[string]Server) sarifResult {
	msg := oneLine(revealed(f.Title, false))
	if msg == "" {
		msg = f.RuleID
	}
	var ev []string
	for _, e := range f.Evidence {
		if e.Text != "" {
			ev = append(ev, fmt.Sprintf("%s: %q", e.Field, clip(revealed(e.Text, false), 200)))
		}
	}
	text := msg
	if f.Detail != "" {
		text += ". " + oneLine(revealed(f.Detail, false))
	}
	if len(ev) > 0 {
		text += " Evidence: " + strings.Join(ev, "; ")
	}

	loc := sarifLocation{}
	if s, ok := servers[f.Server]; ok {
		loc = serverLocation(s, f.Tool)
	} else {
		loc.LogicalLocations = logicalFor(f.Server, f.Tool)
	}
	evidence := f.Evidence
	if evidence == nil {
		evidence = []finding.Evidence{}
	}
	return sarifResult{
		RuleID:              f.RuleID,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifMessage{Text: text},
		Locations:           []sarifLocation{loc},
		PartialFingerprints: map[string]string{fingerprintKey: Fingerprint(f)},
		Properties: map[string]any{
			"category":   f.Category,
			"severity":   f.Severity,
			"confidence": f.Confidence,
			"server":     f.Server,
			"tool":       f.Tool,
			"evidence":   evidence,
		},
	}
}

// serverLocation points at the server's entry in its config or definitions
// file when known, and always names the server (and tool) logically.
func serverLocation(s Server, tool string) sarifLocation {
	loc := sarifLocation{LogicalLocations: logicalFor(s.Name, tool)}
	if s.Source.Path != "" {
		loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(s.Source.Path)}}
		if s.Source.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: s.Source.Line}
		}
	}
	return loc
}

func logicalFor(server, tool string) []sarifLogical {
	if server == "" {
		server = "(cross-server)"
	}
	l := []sarifLogical{{Name: server, FullyQualifiedName: server, Kind: "module"}}
	if tool != "" {
		l = append(l, sarifLogical{Name: tool, FullyQualifiedName: server + "/" + tool, Kind: "function"})
	}
	return l
}

// fileURI turns a path into a SARIF artifact URI: file:// for absolute
// paths, a relative reference (resolved against the scan's working
// directory) otherwise.
func fileURI(p string) string {
	slash := filepath.ToSlash(p)
	if filepath.IsAbs(p) || strings.HasPrefix(slash, "/") {
		if !strings.HasPrefix(slash, "/") { // Windows drive path: C:/...
			slash = "/" + slash
		}
		return (&url.URL{Scheme: "file", Path: slash}).String()
	}
	return (&url.URL{Path: slash}).String()
}

// Fingerprint identifies a finding across runs: a hash of its rule, server,
// tool and first evidence field. Volatile text (titles with counts,
// timestamps, quoted evidence that a server may reword) is left out, so a
// dashboard keeps tracking the same alert from run to run.
func Fingerprint(f finding.Finding) string {
	h := sha256.New()
	for _, part := range []string{f.RuleID, f.Server, f.Tool, firstField(f)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// RuleAnchor is the fragment of a rule's section in docs/scan.md: the
// anchor GitHub generates for a heading that is exactly the rule ID (lower
// case, punctuation other than '-' and '_' dropped, spaces to '-').
func RuleAnchor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ruleName is the SARIF rule name: the ID in UpperCamelCase
// ("ssrf.any_url" → "SsrfAnyUrl"), as SARIF recommends.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Rule"
	}
	return b.String()
}
