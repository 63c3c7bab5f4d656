package sandbox

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDoctorReportsMissingFeatures checks that what tests skip for is
// what doctor reports: every missing kernel feature and backend is named
// with its reason, and what the effective profile loses is spelled out.
func TestDoctorReportsMissingFeatures(t *testing.T) {
	yes := func(d string) Feature { return Feature{Available: true, Detail: d} }
	f := Features{
		OS: "linux", Root: false,
		UserNS:      yes(""),
		Seccomp:     yes(""),
		Landlock:    Feature{Detail: "Landlock is built in but not enabled: add landlock to the lsm= kernel parameter"},
		LandlockTCP: Feature{Detail: "needs Landlock ABI 4 (Linux 6.7+)"},
		CgroupV2:    Feature{Detail: "this machine mounts cgroup v1 (or a hybrid) at /sys/fs/cgroup, not the unified v2 hierarchy"},
		PidMaxNS:    Feature{Detail: "needs Linux 6.14+"},
		Native:      yes("trial sandbox built in 9ms"),
		Bubblewrap:  Feature{Detail: "bwrap is not installed (apt-get install bubblewrap, or dnf install bubblewrap)"},
		GVisor:      Feature{Detail: "runsc is not installed (see https://gvisor.dev/docs/user_guide/install/)"},
	}
	var out bytes.Buffer
	if err := WriteDoctor(&out, f, DefaultFor("npx"), "default for npx"); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "/"+runtime.GOARCH+")", "/ARCH)")
	golden(t, "doctor_missing.txt", got)
	for _, want := range []string{
		"landlock (files)       NOT available: Landlock is built in but not enabled",
		"bubblewrap             NOT available: bwrap is not installed",
		"not enforced: Landlock is not available",
		"not enforced: cgroup v2 is not delegated",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, got)
		}
	}

	// A profile that cannot start is reported as such, and as an error.
	p := DefaultProfile()
	p.Landlock = RequireOn
	out.Reset()
	err := WriteDoctor(&out, f, p, "test")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(out.String(), "CANNOT START") || !strings.Contains(out.String(), "landlock: require") {
		t.Errorf("doctor for an impossible profile: err %v, output:\n%s", err, out.String())
	}
}

func TestDoctorOtherOS(t *testing.T) {
	no := Feature{Detail: "sandboxing is implemented for Linux only"}
	f := Features{OS: "darwin", UserNS: no, Seccomp: no, Landlock: no, LandlockTCP: no, CgroupV2: no, PidMaxNS: no, Native: no, Bubblewrap: no, GVisor: no}
	var out bytes.Buffer
	err := WriteDoctor(&out, f, DefaultProfile(), "strict default")
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("WriteDoctor on darwin error = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(out.String(), "NOT ENFORCED on darwin") {
		t.Errorf("doctor on darwin does not say plainly what is not enforced:\n%s", out.String())
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if intended):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
