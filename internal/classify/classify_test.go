package classify

import (
	"strings"
	"testing"

	"mcpwarden/internal/netclass"
	"mcpwarden/internal/secrets"
)

func TestShell(t *testing.T) {
	tests := []struct {
		in   string
		risk Risk
		code string
	}{
		{"report.pdf", None, ""},
		{"hello world", None, ""},
		{"$(id)", High, "shell.substitution"},
		{"`whoami`", High, "shell.substitution"},
		{`"$(id)"`, High, "shell.substitution"},
		{"'$(id)'", Medium, "shell.quote"},
		{"a; rm -rf /", High, "shell.separator"},
		{"a && b", High, "shell.separator"},
		{"a || b", High, "shell.separator"},
		{"a | nc x 1", High, "shell.pipe"},
		{"a & b", High, "shell.background"},
		{"x > /etc/passwd", Medium, "shell.redirect"},
		{"<(curl x)", High, "shell.substitution"},
		{"$HOME/x", Medium, "shell.variable"},
		{"${IFS}", Medium, "shell.variable"},
		{"$'\\x3b'", Medium, "shell.ansi_c_quote"},
		{"--output=/tmp/x", Medium, "shell.option"},
		{"a\nb", High, "shell.newline"},
		{"a\x00b", High, "shell.nul"},
		{"it's", Medium, "shell.unbalanced_quote"},
		{"*.txt", Low, "shell.glob"},
		{"%PATH%", Medium, "shell.cmd_variable"},
		{`a\;b`, None, ""},
		{`"a;b"`, Medium, "shell.quote"},
	}
	for _, tt := range tests {
		got := Shell(tt.in)
		if got.Risk != tt.risk || (tt.code != "" && !got.Has(tt.code)) {
			t.Errorf("Shell(%q) = %s %v, want %s with %s", tt.in, got.Risk, got.Reasons, tt.risk, tt.code)
		}
	}
	// A quoted separator is not a separator.
	if Shell(`"a;b"`).Has("shell.separator") {
		t.Errorf(`Shell("a;b" quoted) reports a separator`)
	}
}

func TestPath(t *testing.T) {
	tests := []struct {
		in      string
		risk    Risk
		code    string
		decoded string
	}{
		{"docs/readme.md", None, "", "docs/readme.md"},
		{"../../etc/passwd", High, "path.traversal", "../../etc/passwd"},
		{"..%2f..%2fetc%2fpasswd", Critical, "path.traversal", "../../etc/passwd"},
		{"..%252f..%252fsecret", Critical, "path.traversal", "../../secret"},
		{"%2e%2e/%2e%2e/x", Critical, "path.traversal", "../../x"},
		{"..\\..\\windows\\win.ini", High, "path.traversal", "../../windows/win.ini"},
		{"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/x", Critical, "path.overlong_utf8", "../../x"},
		{"%c0%ae%c0%ae%c0%afx", Critical, "path.traversal", "../x"},
		{"．．／．．／x", Critical, "path.traversal", "../../x"},
		{"file.txt\x00.png", High, "path.nul", "file.txt"},
		{"file.txt%00.png", High, "path.nul", "file.txt"},
		{"/etc/shadow", High, "path.sensitive", "/etc/shadow"},
		{"/var/data/x.csv", Medium, "path.absolute", "/var/data/x.csv"},
		{"C:\\Users\\bob\\x", Medium, "path.absolute", "C:/Users/bob/x"},
		{"~/.ssh/id_rsa", High, "path.sensitive", "~/.ssh/id_rsa"},
		{"~/notes.txt", Medium, "path.home", "~/notes.txt"},
		{"$HOME/notes", Medium, "path.home", "$HOME/notes"},
		{"%USERPROFILE%\\x", Medium, "path.home", "%USERPROFILE%/x"},
		{`\\attacker\share\x`, High, "path.unc", "//attacker/share/x"},
		{"/proc/self/environ", High, "path.sensitive", "/proc/self/environ"},
		{"reports/CON.txt", Medium, "path.device", "reports/CON.txt"},
		{"....//....//x", High, "path.traversal", "....//....//x"},
		{".env", High, "path.sensitive", ".env"},
	}
	for _, tt := range tests {
		got := Path(tt.in)
		if got.Risk != tt.risk || (tt.code != "" && !got.Has(tt.code)) || got.Decoded != tt.decoded {
			t.Errorf("Path(%q) = %s %v decoded %q, want %s with %s decoded %q", tt.in, got.Risk, got.Reasons, got.Decoded, tt.risk, tt.code, tt.decoded)
		}
	}
}

func TestURL(t *testing.T) {
	tests := []struct {
		in    string
		risk  Risk
		code  string
		class netclass.Class
	}{
		{"https://example.com/x", Low, "url.unresolved", netclass.Unknown},
		{"http://127.0.0.1/", High, "url.internal", netclass.Loopback},
		{"http://2130706433/", High, "url.internal", netclass.Loopback},
		{"http://0x7f.1/", High, "url.internal", netclass.Loopback},
		{"http://017700000001/", High, "url.internal", netclass.Loopback},
		{"http://127.1/", High, "url.internal", netclass.Loopback},
		{"http://[::1]:8080/", High, "url.internal", netclass.Loopback},
		{"http://[::ffff:127.0.0.1]/", High, "url.internal", netclass.Loopback},
		{"http://[fe80::1%25eth0]/", High, "url.internal", netclass.LinkLocal},
		{"http://169.254.169.254/latest/meta-data/", Critical, "url.internal", netclass.Metadata},
		{"http://metadata.google.internal/computeMetadata/v1/", Critical, "url.internal", netclass.Metadata},
		{"http://10.1.2.3/", High, "url.internal", netclass.Private},
		{"http://224.0.0.1/", Medium, "url.internal", netclass.Multicast},
		{"http://localhost:6379/", High, "url.internal", netclass.Loopback},
		{"http://example.com@127.0.0.1/", High, "url.userinfo_confusion", netclass.Loopback},
		{"http://user:pw@example.com/", High, "url.credentials", netclass.Unknown},
		{"http://evil.com\\@good.com/", High, "url.backslash", netclass.Unknown},
		{"file:///etc/passwd", High, "url.scheme", netclass.Unknown},
		{"gopher://127.0.0.1:6379/_SET", High, "url.scheme", netclass.Loopback},
		{"http://%31%32%37.0.0.1/", High, "url.encoded_host", netclass.Loopback},
		{"http://127.0.0.1.nip.io/", High, "url.rebinding_name", netclass.Loopback},
		{"http://10-0-0-1.sslip.io/", High, "url.rebinding_name", netclass.Private},
		{"169.254.169.254/latest", Critical, "url.internal", netclass.Metadata},
		{"http://8.8.8.8/", None, "", netclass.Public},
		{"http://a.example/\r\nHost: x", High, "url.control_char", netclass.Unknown},
	}
	for _, tt := range tests {
		got := URL(tt.in)
		if got.Risk != tt.risk || (tt.code != "" && !got.Has(tt.code)) || got.Class != tt.class {
			t.Errorf("URL(%q) = %s %s %v, want %s %s with %s", tt.in, got.Risk, got.Class, got.Reasons, tt.risk, tt.class, tt.code)
		}
	}
}

func TestSQL(t *testing.T) {
	tests := []struct {
		in   string
		risk Risk
		code string
	}{
		{"alice", None, ""},
		{"O''Brien", None, ""},
		{"' OR '1'='1", High, "sql.tautology"},
		{"1 OR 1=1", High, "sql.tautology"},
		{"x' UNION SELECT password FROM users--", High, "sql.union"},
		{"x' UN/**/ION SEL/**/ECT 1", High, "sql.union"},
		{"1; DROP TABLE users", High, "sql.stacked"},
		{"1' AND SLEEP(5)--", High, "sql.time_delay"},
		{"'; EXEC xp_cmdshell 'dir'--", Critical, "sql.dangerous_function"},
		{"1 UNION SELECT table_name FROM information_schema.tables", High, "sql.schema_probe"},
		{"admin'--", Medium, "sql.comment"},
		{"it's", Medium, "sql.quote"},
	}
	for _, tt := range tests {
		got := SQL(tt.in)
		if got.Risk != tt.risk || (tt.code != "" && !got.Has(tt.code)) {
			t.Errorf("SQL(%q) = %s %v, want %s with %s", tt.in, got.Risk, got.Reasons, tt.risk, tt.code)
		}
	}
}

func TestSecret(t *testing.T) {
	d, err := secrets.New(secrets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := "AKIA" + "Z4K7QW2XLMN5PR3T"
	if got := Secret(d, "id "+key); got.Risk != High || !got.Has("secret.aws-access-key") {
		t.Errorf("Secret(aws key) = %s %v, want high secret.aws-access-key", got.Risk, got.Reasons)
	}
	if got := Secret(d, "no secrets here"); got.Risk != None {
		t.Errorf("Secret(plain) = %s %v, want none", got.Risk, got.Reasons)
	}
}

func TestLongInputTruncated(t *testing.T) {
	long := strings.Repeat("a", maxInput+10) + ";"
	if got := Shell(long); !got.Has("shell.truncated") || got.Has("shell.separator") {
		t.Errorf("Shell(long) = %v, want truncated and no separator past the limit", got.Reasons)
	}
}

func checkResult(t *testing.T, r Result, in string) {
	t.Helper()
	max := None
	for _, x := range r.Reasons {
		if x.Risk > max {
			max = x.Risk
		}
		if x.Offset > len(in) || x.Offset < -1 {
			t.Fatalf("%s(%q): reason %s offset %d out of range", r.Kind, in, x.Code, x.Offset)
		}
	}
	if max != r.Risk {
		t.Fatalf("%s(%q): risk %s but highest reason %s", r.Kind, in, r.Risk, max)
	}
}

func FuzzShell(f *testing.F) {
	for _, s := range []string{"", "$(id)", "'a", `"$x"`, "a;b", "\\", "$", "%x%", "<(", "-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkResult(t, Shell(s), s) })
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{"", "..%2f", "%c0%ae", "\xc0\xae", "\xe0\x80\xae", "\xf0\x80\x80\xae", "．．", "a\x00", `\\x`, "%u002e", "%", "%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Path(s)
		checkResult(t, r.Result, s)
		if strings.IndexByte(r.Decoded, 0) >= 0 {
			t.Fatalf("Path(%q).Decoded holds a NUL", s)
		}
	})
}

func FuzzURL(f *testing.F) {
	for _, s := range []string{"", "http://[::1%25x]/", "http://0x7f.1", "a@b@c", "http://%zz/", "[", "http://[", "file:", "http://a.nip.io", "\\\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkResult(t, URL(s).Result, s) })
}

func FuzzSQL(f *testing.F) {
	for _, s := range []string{"", "'", "/*", "*/", "' or 1=1", "--", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkResult(t, SQL(s), s) })
}
