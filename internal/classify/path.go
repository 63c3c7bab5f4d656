package classify

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// PathResult is the verdict on a file-system path.
type PathResult struct {
	Result
	// Decoded is the path after every decoding: URL (repeatedly, so
	// double encoding is undone), overlong UTF-8, Unicode NFKC (fullwidth
	// dots and slashes), backslashes as separators, truncated at NUL.
	Decoded string `json:"decoded"`
}

// maxDecodeRounds bounds repeated URL decoding: three rounds undo double
// and triple encoding, which is as deep as real servers decode.
const maxDecodeRounds = 3

// Path classifies s as a file-system path a tool would open. Traversal is
// judged on the fully decoded form, because some layer between the agent
// and the file system will decode what the one before it did not.
func Path(s string) PathResult {
	r := PathResult{Result: Result{Kind: "path"}}
	s = clipInput(&r.Result, s)
	d := s
	encoded := false
	for range maxDecodeRounds {
		next, changed := percentDecode(d)
		if !changed {
			break
		}
		d, encoded = next, true
	}
	if o := overlongDecode(d); o != d {
		d, encoded = o, true
		r.add("path.overlong_utf8", High, -1, "overlong UTF-8 encodes '.' or '/' to slip past filters")
	}
	if !utf8.ValidString(d) {
		d = strings.ToValidUTF8(d, "\uFFFD")
	}
	if n := norm.NFKC.String(d); n != d {
		d = n
		encoded = true
	}
	// Offsets point into the input only while the path is unchanged.
	off := func(i int) int {
		if d == s {
			return i
		}
		return -1
	}
	if i := strings.IndexByte(d, 0); i >= 0 {
		r.add("path.nul", High, off(i), "NUL byte truncates the path in C and many runtimes")
		d = d[:i]
	}
	if strings.IndexByte(d, '\\') >= 0 {
		if strings.HasPrefix(d, `\\`) {
			r.add("path.unc", High, 0, "UNC path reaches a network share (and leaks NTLM credentials)")
		}
		d = strings.ReplaceAll(d, `\`, "/")
	}
	r.Decoded = d
	if encoded && d != s {
		r.add("path.encoded", Medium, -1, "the path is encoded; decoded it reads %q", clip(d))
	}
	traversal := false
	for seg := range strings.SplitSeq(d, "/") {
		if t := strings.TrimRight(seg, ". "); seg == ".." || (len(seg) > 2 && t == "" && strings.Trim(seg, ".") == "") {
			traversal = true
			break
		}
	}
	if traversal {
		risk := High
		if encoded {
			risk = Critical // hidden traversal is an attack, not a mistake
		}
		r.add("path.traversal", risk, -1, "'..' segments climb out of the intended directory")
	}
	ld := lower(d)
	switch {
	case strings.HasPrefix(d, "/"):
		r.add("path.absolute", Medium, 0, "absolute path")
	case len(d) >= 2 && d[1] == ':' && (d[0] >= 'a' && d[0] <= 'z' || d[0] >= 'A' && d[0] <= 'Z'):
		r.add("path.absolute", Medium, 0, "absolute Windows path with a drive letter")
	case strings.HasPrefix(d, "~"):
		r.add("path.home", Medium, 0, "'~' resolves to a home directory")
	case strings.HasPrefix(ld, "$home") || strings.HasPrefix(ld, "${home}") || strings.HasPrefix(ld, "%userprofile%") || strings.HasPrefix(ld, "%appdata%") || strings.HasPrefix(ld, "%homepath%"):
		r.add("path.home", Medium, 0, "the path starts from the user's home or profile directory")
	}
	if hit := sensitivePath(ld); hit != "" {
		r.add("path.sensitive", High, off(strings.Index(ld, hit)), "names a credential or system file (%s)", hit)
	}
	if strings.HasPrefix(ld, "/dev/") || strings.HasPrefix(ld, "/proc/") || strings.HasPrefix(ld, "/sys/") || windowsDevice(ld) {
		r.add("path.device", Medium, 0, "device or kernel interface, not a regular file")
	}
	return r
}

// sensitiveParts are path fragments of credential and system files.
var sensitiveParts = []string{
	"/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/gshadow", "/proc/self/environ", "/proc/self/mem",
	".ssh/", "/.ssh", "id_rsa", "id_ed25519", "id_ecdsa", "authorized_keys", ".aws/credentials", ".aws/config",
	".netrc", ".npmrc", ".pypirc", ".git-credentials", ".docker/config.json", ".kube/config", ".gnupg",
	".bash_history", ".zsh_history", "mcp.json", "claude_desktop_config.json", ".config/gcloud", ".pgpass",
	"/.env", "windows/system32/config/sam", "wallet.dat",
}

func sensitivePath(ld string) string {
	if ld == ".env" || strings.HasPrefix(ld, ".env.") {
		return ".env"
	}
	for _, p := range sensitiveParts {
		if strings.Contains(ld, p) {
			return p
		}
	}
	return ""
}

// windowsDevice reports reserved DOS device names (CON, NUL, COM1 ...),
// which open devices whatever directory they appear in.
func windowsDevice(ld string) bool {
	base := ld[strings.LastIndexByte(ld, '/')+1:]
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	switch base {
	case "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "lpt1", "lpt2", "lpt3":
		return true
	}
	return false
}

// percentDecode decodes %XX escapes (and %uXXXX), leaving malformed ones.
func percentDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	changed := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0 {
				b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
				i += 2
				changed = true
				continue
			}
			if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
				v, ok := 0, true
				for _, c := range []byte(s[i+2 : i+6]) {
					if unhex(c) < 0 {
						ok = false
						break
					}
					v = v<<4 | unhex(c)
				}
				if ok {
					b.WriteRune(rune(v))
					i += 5
					changed = true
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), changed
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hasOverlongLead reports whether s has a byte that can start an
// overlong sequence (ContainsAny would treat these bytes as runes).
func hasOverlongLead(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 0xc0, 0xc1, 0xe0, 0xf0:
			return true
		}
	}
	return false
}

// overlongDecode rewrites overlong UTF-8 encodings of ASCII (C0 AE for
// '.', C0 AF for '/', E0 80 AE ...) to the ASCII they stand for. Strict
// decoders reject them; lenient ones (and old IIS) do not.
func overlongDecode(s string) string {
	if !hasOverlongLead(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == 0xc0 || c == 0xc1) && i+1 < len(s) && s[i+1]&0xc0 == 0x80:
			b.WriteByte((c&0x1f)<<6 | s[i+1]&0x3f)
			i++
			continue
		case c == 0xe0 && i+2 < len(s) && (s[i+1] == 0x80 || s[i+1] == 0x81) && s[i+2]&0xc0 == 0x80:
			b.WriteByte((s[i+1]&0x3f)<<6 | s[i+2]&0x3f)
			i += 2
			continue
		case c == 0xf0 && i+3 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0x80 || s[i+2] == 0x81) && s[i+3]&0xc0 == 0x80:
			b.WriteByte((s[i+2]&0x3f)<<6 | s[i+3]&0x3f)
			i += 3
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
