package procenv

import (
	"slices"
	"testing"
)

func TestBuild(t *testing.T) {
	parent := map[string]string{
		"PATH":                  "/usr/bin",
		"HOME":                  "/home/op",
		"AWS_SECRET_ACCESS_KEY": "canary-secret",
		"GITHUB_TOKEN":          "canary-token",
	}
	lookup := func(k string) (string, bool) { v, ok := parent[k]; return v, ok }
	tests := []struct {
		name     string
		declared map[string]string
		want     []string
	}{
		{"base only", nil, []string{"HOME=/home/op", "PATH=/usr/bin"}},
		{"declared added", map[string]string{"API_KEY": "x"}, []string{"API_KEY=x", "HOME=/home/op", "PATH=/usr/bin"}},
		{"declared overrides base", map[string]string{"HOME": "/srv"}, []string{"HOME=/srv", "PATH=/usr/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Build(lookup, tt.declared)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Build(%v) = %v, want %v", tt.declared, got, tt.want)
			}
			for _, kv := range got {
				if kv == "AWS_SECRET_ACCESS_KEY=canary-secret" || kv == "GITHUB_TOKEN=canary-token" {
					t.Errorf("Build leaked the parent's %s", kv)
				}
			}
		})
	}
}

func TestKeys(t *testing.T) {
	got := Keys([]string{"A=1", "B=x=y", "C"})
	if want := []string{"A", "B", "C"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %v, want %v", got, want)
	}
}
