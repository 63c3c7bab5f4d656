package report

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"mcpwarden/internal/finding"
)

func TestTextWithoutColorHasNoEscapes(t *testing.T) {
	out := renderString(t, hostileReport(), "text")
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("text without colour contains an escape byte: %q", out[strings.IndexByte(out, 0x1b):][:20])
	}
	for _, bad := range []string{"\u202E", "\u200B", "\U000E0069"} {
		if strings.Contains(out, bad) {
			t.Errorf("text contains hidden character %q from untrusted input", bad)
		}
	}
}

func TestTextColorEscapesAreOurs(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, hostileReport(), "text", RenderOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "\x1b[1;97;41mCRITICAL") {
		t.Errorf("coloured text lacks the critical badge")
	}
	// Every escape is an SGR sequence the palette writes; the hostile
	// "\x1b[2J" (clear screen) arrives as a visible stand-in.
	for i := strings.IndexByte(out, 0x1b); i >= 0; {
		end := strings.IndexByte(out[i:], 'm')
		seq := out[i : i+end+1]
		for _, r := range seq[2 : len(seq)-1] {
			if !strings.ContainsRune("0123456789;", r) {
				t.Fatalf("unexpected escape sequence %q", seq)
			}
		}
		next := strings.IndexByte(out[i+1:], 0x1b)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	if strings.Contains(out, "\x1b[2J") {
		t.Error("hostile clear-screen sequence reached the terminal")
	}
}

// TestNotScannedNeverLooksClean renders a report whose only server could
// not be scanned: no format may present it as clean.
func TestNotScannedNeverLooksClean(t *testing.T) {
	r := &Report{Servers: []Server{{Name: "db", Status: NotScanned, Reason: "needs auth (HTTP 401)"}}}
	tests := []struct {
		format    string
		want, not []string
	}{
		{"text", []string{"1 NOT SCANNED", "✗ NOT SCANNED: 1 of 1 server could not be reviewed", "needs auth (HTTP 401)"}, []string{"✓"}},
		{"markdown", []string{"[!CAUTION]", "NOT SCANNED: 1 of 1 server", "needs auth (HTTP 401)"}, []string{"✅"}},
		{"html", []string{`class="banner bad"`, "NOT SCANNED: 1 of 1 servers", "needs auth (HTTP 401)", `<span class="pill not_scanned">not scanned</span>`}, []string{`banner good`}},
		{"json", []string{`"complete": false`, `"not_scanned": 1`, `"reason": "needs auth (HTTP 401)"`}, nil},
		{"sarif", []string{`"executionSuccessful": false`, `server \"db\" was NOT SCANNED: needs auth (HTTP 401)`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := renderString(t, r, tt.format)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("Render(not scanned, %s) lacks %q:\n%s", tt.format, w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("Render(not scanned, %s) contains %q, which reads as clean", tt.format, n)
				}
			}
		})
	}
	clean := &Report{Servers: []Server{{Name: "ok", Status: Scanned}}}
	if out := renderString(t, clean, "text"); !strings.Contains(out, "✓ no findings in any server") {
		t.Errorf("Render(clean, text) = %q, want the all-clear", out)
	}
}

func TestRenderErrors(t *testing.T) {
	var buf bytes.Buffer
	err := Render(&buf, fixture(), "pdf", RenderOptions{})
	if err == nil || !strings.Contains(err.Error(), "text, json, sarif, html, markdown") {
		t.Errorf("Render(pdf) = %v, want an error listing the formats", err)
	}
	bad := &Report{Servers: []Server{{Name: "x", Status: Scanned, Findings: []finding.Finding{{RuleID: "r", Category: "made_up"}}}}}
	if err := Render(&buf, bad, "json", RenderOptions{}); err == nil || !strings.Contains(err.Error(), `unknown category "made_up"`) {
		t.Errorf("Render(unknown category) = %v, want an error", err)
	}
	bad.Servers[0].Findings[0] = finding.Finding{RuleID: "r", Category: finding.Hygiene, Severity: 9}
	if err := Render(&buf, bad, "json", RenderOptions{}); err == nil || !strings.Contains(err.Error(), "invalid severity") {
		t.Errorf("Render(severity 9) = %v, want an error", err)
	}
	if err := Render(&buf, nil, "json", RenderOptions{}); err == nil {
		t.Error("Render(nil) = nil, want an error")
	}
	if buf.Len() != 0 {
		t.Errorf("failed renders wrote %d bytes, want none", buf.Len())
	}
	if got := Formats(); got[0] != "text" || len(got) != 5 {
		t.Errorf("Formats() = %v, want text first and five formats", got)
	}
}

func TestRenderDoesNotModifyReport(t *testing.T) {
	r := fixture()
	before := renderString(t, r, "json")
	first := r.Servers[0].Name
	for _, f := range Formats() {
		renderString(t, r, f)
	}
	if r.Servers[0].Name != first || renderString(t, r, "json") != before {
		t.Error("Render reordered or changed its input")
	}
}

func TestColorMode(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	var buf bytes.Buffer // not a terminal
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	tests := []struct {
		mode ColorMode
		w    any
		env  func(string) string
		want bool
	}{
		{ColorAlways, &buf, env("NO_COLOR", "1"), true}, // an explicit flag beats the environment
		{ColorNever, &buf, env(), false},
		{ColorAuto, &buf, env(), false},
		{ColorAuto, devnull, env(), false}, // a character device, but not a terminal
	}
	for _, tt := range tests {
		w := tt.w.(interface{ Write([]byte) (int, error) })
		if got := tt.mode.Enabled(w, tt.env); got != tt.want {
			t.Errorf("ColorMode(%q).Enabled(%T) = %v, want %v", tt.mode, tt.w, got, tt.want)
		}
	}
	// auto on a terminal, which a test cannot open portably, by the inner
	// decision.
	autoTests := []struct {
		terminal bool
		env      func(string) string
		want     bool
	}{
		{true, env(), true},
		{true, env("NO_COLOR", "1"), false},
		{true, env("NO_COLOR", ""), true}, // empty NO_COLOR does not count
		{true, env("TERM", "dumb"), false},
		{false, env("TERM", "xterm-256color"), false},
	}
	for _, tt := range autoTests {
		if got := ColorAuto.enabled(tt.terminal, tt.env); got != tt.want {
			t.Errorf("auto.enabled(terminal=%v, NO_COLOR=%q TERM=%q) = %v, want %v", tt.terminal, tt.env("NO_COLOR"), tt.env("TERM"), got, tt.want)
		}
	}
	for in, want := range map[string]ColorMode{"": ColorAuto, "AUTO": ColorAuto, "always": ColorAlways, "never": ColorNever} {
		if got, err := ParseColorMode(in); got != want || err != nil {
			t.Errorf("ParseColorMode(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := ParseColorMode("yes"); err == nil {
		t.Error("ParseColorMode(yes) = nil error, want one")
	}
}
