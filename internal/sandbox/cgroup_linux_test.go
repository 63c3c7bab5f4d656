//go:build linux

package sandbox

import (
	"slices"
	"strings"
	"testing"
)

func TestUnifiedPath(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "0::/user.slice/user-1000.slice/session-1.scope\n", want: "/user.slice/user-1000.slice/session-1.scope"},
		{in: "9:name=systemd:/\n4:memory:/x\n0::/\n", want: "/"},
		{in: "4:memory:/x\n", wantErr: "no cgroup v2"},
		{in: "0::relative\n", wantErr: "odd cgroup path"},
	}
	for _, tt := range tests {
		got, err := unifiedPath(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("unifiedPath(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("unifiedPath(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMissingControllers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{{"cpu memory pids\n", nil}, {"cpu io\n", []string{"memory", "pids"}}, {"", []string{"memory", "pids"}}, {"pids", []string{"memory"}}} {
		if got := missingControllers(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("missingControllers(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCgroupFeatureHere(t *testing.T) {
	// Whatever this machine has, the probe must either name a directory
	// or say why not: a silent "unavailable" would hide a missing limit.
	f := cgroupV2Feature()
	if f.Detail == "" {
		t.Errorf("cgroupV2Feature() = %+v, want a directory or a reason", f)
	}
	if !f.Available {
		t.Logf("SKIP-REPORT: cgroup v2 limits are not enforced here: %s", f.Detail)
	}
}
