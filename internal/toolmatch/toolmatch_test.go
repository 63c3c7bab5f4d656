package toolmatch

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, server, name string
		want                  bool
	}{
		{"demo/read_file", "demo", "read_file", true},
		{"demo/read_file", "demo", "read_files", false},
		{"demo/read_*", "demo", "read_file", true},
		{"demo/read_*", "demo", "read_", true},
		{"demo/*", "demo", "anything", true},
		{"demo", "demo", "anything", true},
		{"demo", "other", "anything", false},
		{"*/send_email", "mail", "send_email", true},
		{"*/send_email", "mail", "send_emails", false},
		{"*", "a", "b", true},
		{"*/*", "a", "b", true},
		{"d*o/*_file", "demo", "read_file", true},
		{"d*o/*_file", "demo", "read_filex", false},
		{"a*b*c/x", "aXbYc", "x", true},
		{"a*b*c/x", "aXbY", "x", false},
		{"gh/a/b", "gh", "a/b", true},
		{"DEMO/x", "demo", "x", false}, // case matters, as in tool names
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.server+"/"+tt.name, func(t *testing.T) {
			p, err := Parse(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.server, tt.name); got != tt.want {
				t.Errorf("Parse(%q).Match(%q, %q) = %v, want %v", tt.pattern, tt.server, tt.name, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", " ", "/x", "x/", "a b/c"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = nil error, want one", s)
		}
	}
	var zero Pattern
	if zero.Match("a", "b") {
		t.Error("zero Pattern matches")
	}
}

func FuzzGlob(f *testing.F) {
	for _, s := range []string{"a*b", "***", "*a*a*a*a*b", ""} {
		f.Add(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac")
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if len(p) > 64 || len(s) > 256 {
			return
		}
		got := glob(p, s)
		if want := naive(p, s); got != want {
			t.Fatalf("glob(%q, %q) = %v, want %v", p, s, got, want)
		}
	})
}

// naive is the textbook dynamic-programming definition, for the fuzz
// oracle: m[i][j] says whether p[i:] matches s[j:].
func naive(p, s string) bool {
	m := make([][]bool, len(p)+1)
	for i := range m {
		m[i] = make([]bool, len(s)+1)
	}
	m[len(p)][len(s)] = true
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(s); j >= 0; j-- {
			if p[i] == '*' {
				m[i][j] = m[i+1][j] || j < len(s) && m[i][j+1]
			} else {
				m[i][j] = j < len(s) && p[i] == s[j] && m[i+1][j+1]
			}
		}
	}
	return m[0][0]
}
