package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mcpwarden/internal/finding"
)

func renderString(t testing.TB, r *Report, format string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, r, format, RenderOptions{}); err != nil {
		t.Fatalf("Render(%s) = %v", format, err)
	}
	return buf.String()
}

// hostileReport puts attacker text in every string field a server controls.
func hostileReport() *Report {
	r := fixture()
	s := &r.Servers[0]
	s.Name = "srv" + hostile
	s.Reason = hostile
	s.Status = NotScanned
	s.Info = ServerInfo{Name: hostile, Version: hostile, Protocol: hostile, Instructions: hostile}
	s.Tools = append(s.Tools, Tool{Name: hostile, Title: hostile, Description: hostile, Parameters: []string{hostile}, FlowLabels: []string{hostile}})
	s.Prompts = []Prompt{{Name: hostile, Description: hostile, Arguments: []string{hostile}}}
	s.Resources = []Resource{{URI: hostile, Name: hostile, MIMEType: hostile}}
	s.ResourceTemplates = []ResourceTemplate{{URITemplate: hostile, Name: hostile}}
	r.CrossServer = append(r.CrossServer, finding.Finding{RuleID: hostile, Category: finding.ToolPoisoning, Severity: finding.High,
		Server: hostile, Tool: hostile, Title: hostile, Detail: hostile,
		Evidence: []finding.Evidence{{Field: hostile, Text: hostile, Note: hostile, Previous: hostile}}})
	r.Servers[1].Status = Scanned
	r.Servers[1].Tools = append(r.Servers[1].Tools, Tool{Name: hostile, Title: hostile, Description: hostile})
	return r
}

func TestHTMLRendersHostileTextInert(t *testing.T) {
	out := renderString(t, hostileReport(), "html")
	if n := strings.Count(strings.ToLower(out), "<script"); n != 1 {
		t.Errorf("HTML has %d <script elements, want only mcpwarden's own", n)
	}
	for _, bad := range []string{"<img", "<!-- x", "</pre><script", "\u202E", "\u200B", "\U000E0069", "\x1b", "onerror=alert(1)>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains %q from untrusted input", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(document.cookie)&lt;/script&gt;",
		"&lt;!-- x --&gt;",
		`<span class="hid" title="hidden characters">⟨U+202E⟩</span>`,
		`<span class="hid" title="hidden characters">⟨tags &#34;ign&#34;⟩</span>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q: hostile text should be shown escaped", want)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	out := renderString(t, fixture(), "html")
	for _, bad := range []string{"<link", "src=\"http", "src='http", "@import", "url(http", "<iframe", "<object"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains %q: the report must not fetch anything", bad)
		}
	}
	// The CSP allows exactly our inline script, by hash.
	start := strings.Index(out, "<script>")
	end := strings.Index(out, "</script>")
	if start < 0 || end < start {
		t.Fatal("HTML has no inline script")
	}
	sum := sha256.Sum256([]byte(out[start+len("<script>") : end]))
	if want := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(html.UnescapeString(out), want) {
		t.Errorf("Content-Security-Policy lacks %s, the hash of the inline script", want)
	}
	for _, want := range []string{"NOT SCANNED: 1 of 4 servers", "default-src &#39;none&#39;", `class="matrix"`, "poison.hidden_instructions"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// TestHTMLScreenshot renders the fixture in headless Chromium and checks
// the picture: produced, not blank, and styled (the dark header band
// shows the inline CSS applied under the page's CSP).
func TestHTMLScreenshot(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("headless Chromium not installed at %s (scripts/test installs it): %v", chromium, err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(renderString(t, fixture(), "html")), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1280,1600",
		"file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if dir := os.Getenv("MCPWARDEN_SCREENSHOT_DIR"); dir != "" {
		raw, _ := os.ReadFile(shot)
		_ = os.WriteFile(filepath.Join(dir, "report.png"), raw, 0o644)
	}
	b := img.Bounds()
	if b.Dx() != 1280 || b.Dy() != 1600 {
		t.Errorf("screenshot is %dx%d, want 1280x1600", b.Dx(), b.Dy())
	}
	if v := lumaVariance(img, b); v < 200 {
		t.Errorf("screenshot luminance variance = %.0f, want ≥ 200: the page looks blank", v)
	}
	header := image.Rect(0, 0, b.Dx(), 60)
	if m := lumaMean(img, header); m > 80 {
		t.Errorf("header band mean luminance = %.0f, want dark (< 80): the inline CSS did not apply", m)
	}
}

func luma(img image.Image, x, y int) float64 {
	r, g, b, _ := img.At(x, y).RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 257
}

func lumaMean(img image.Image, rect image.Rectangle) float64 {
	var sum float64
	var n int
	for y := rect.Min.Y; y < rect.Max.Y; y += 4 {
		for x := rect.Min.X; x < rect.Max.X; x += 4 {
			sum += luma(img, x, y)
			n++
		}
	}
	return sum / float64(n)
}

func lumaVariance(img image.Image, rect image.Rectangle) float64 {
	mean := lumaMean(img, rect)
	var sum float64
	var n int
	for y := rect.Min.Y; y < rect.Max.Y; y += 4 {
		for x := rect.Min.X; x < rect.Max.X; x += 4 {
			d := luma(img, x, y) - mean
			sum += d * d
			n++
		}
	}
	return sum / float64(n)
}
