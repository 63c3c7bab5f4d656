package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReveal(t *testing.T) {
	tests := []struct {
		name, in   string
		multiline  bool
		want       string
		wantHidden []string
	}{
		{"plain", "hello, wörld 你好 🙂", false, "hello, wörld 你好 🙂", nil},
		{"zero width", "ig\u200Bnore", false, "ig⟨U+200B⟩nore", []string{"⟨U+200B⟩"}},
		{"run collapsed", "a\u200B\u200B\u200Bb", false, "a⟨U+200B ×3⟩b", []string{"⟨U+200B ×3⟩"}},
		{"bidi override", "evil\u202Etxt.exe", false, "evil⟨U+202E⟩txt.exe", []string{"⟨U+202E⟩"}},
		{"bidi isolate", "\u2066x\u2069", false, "⟨U+2066⟩x⟨U+2069⟩", []string{"⟨U+2066⟩", "⟨U+2069⟩"}},
		{"tags decoded", "ok\U000E0068\U000E0069!", false, `ok⟨tags "hi"⟩!`, []string{`⟨tags "hi"⟩`}},
		{"tag cancel", "\U000E0001\U000E007F", false, `⟨tags "\\U000E0001\\U000E007F"⟩`, nil},
		{"escape", "\x1b[2Jx", false, "⟨U+001B⟩[2Jx", []string{"⟨U+001B⟩"}},
		{"newline single", "a\nb\tc\rd", false, `a\nb\tc\rd`, nil},
		{"newline multi", "a\nb\tc", true, "a\nb\tc", nil},
		{"invalid utf8", "a\xffb", false, `a\xffb`, []string{`\xff`}},
		{"nul", "a\x00b", false, "a⟨U+0000⟩b", nil},
		{"nbsp", "a\u00A0b", false, "a⟨U+00A0⟩b", nil},
		{"bom", "\uFEFFx", false, "⟨U+FEFF⟩x", nil},
		{"hangul filler", "a\u3164b", false, "a⟨U+3164⟩b", nil},
		{"variation selector", "a\uFE0Fb", false, "a⟨U+FE0F⟩b", nil},
		{"line separator", "a\u2028b", true, "a⟨U+2028⟩b", nil},
		{"private use", "a\uE000b", false, "a⟨U+E000⟩b", nil},
		{"c1 control", "a\u0085b", false, "a⟨U+0085⟩b", nil},
		{"adjacent hidden merge", "\u200B\u202E", false, "⟨U+200B⟩⟨U+202E⟩", []string{"⟨U+200B⟩⟨U+202E⟩"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := revealed(tt.in, tt.multiline); got != tt.want {
				t.Errorf("revealed(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.wantHidden != nil {
				var hidden []string
				for _, s := range reveal(tt.in, tt.multiline) {
					if s.hidden {
						hidden = append(hidden, s.text)
					}
				}
				if strings.Join(hidden, "|") != strings.Join(tt.wantHidden, "|") {
					t.Errorf("reveal(%q) hidden segments = %q, want %q", tt.in, hidden, tt.wantHidden)
				}
			}
		})
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel…"},
		{"héllo", 2, "hé…"},
		{"abc", 0, "abc"},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("the quick brown fox jumps over the lazy dog "+strings.Repeat("x", 30), 20)
	for _, l := range got {
		if utf8.RuneCountInString(l) > 20 {
			t.Errorf("wrap line %q is longer than 20", l)
		}
	}
	if strings.Join(got, " ") != "the quick brown fox jumps over the lazy dog "+strings.Repeat("x", 20)+" "+strings.Repeat("x", 10) {
		t.Errorf("wrap lost or reordered words: %q", got)
	}
}
