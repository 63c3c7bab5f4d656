package sandbox

import (
	"fmt"
	"io"
	"runtime"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WriteDoctor reports what this machine can enforce: the kernel features
// and backends, which backend a profile would get and what it would not
// enforce, then the effective profile. profileSource names where the
// profile came from, for the heading. When a server with that profile
// could not start here, the report says so and the error returned wraps
// [ErrUnavailable].
func WriteDoctor(w io.Writer, f Features, p Profile, profileSource string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "mcpwarden sandbox doctor (%s/%s", f.OS, runtime.GOARCH)
	if f.Root {
		b.WriteString(", running as root")
	}
	b.WriteString(")\n\n")
	if f.OS != "linux" {
		fmt.Fprintf(&b, "NOT ENFORCED on %s: sandboxing is implemented for Linux only. Servers get no\n"+
			"filesystem, network, process or resource isolation here; mcpwarden refuses to\n"+
			"start them unless their profile says backend: none.\n\n", f.OS)
	}
	b.WriteString("Kernel features\n")
	row := func(name string, feat Feature) { fmt.Fprintf(&b, "  %-22s %s\n", name, feat) }
	row("user namespaces", f.UserNS)
	row("seccomp-bpf", f.Seccomp)
	row("landlock (files)", f.Landlock)
	row("landlock (tcp)", f.LandlockTCP)
	row("cgroup v2 delegation", f.CgroupV2)
	row("pid_max per namespace", f.PidMaxNS)
	b.WriteString("\nBackends\n")
	row(string(BackendNative), f.Native)
	row(string(BackendBubblewrap), f.Bubblewrap)
	row(string(BackendGVisor), f.GVisor)
	row(string(BackendNone), Feature{Available: true, Detail: "no isolation; only when a profile asks for it"})

	p = p.WithDefaults()
	fmt.Fprintf(&b, "\nEffective profile (%s)\n", profileSource)
	backend, warnings, startErr := chooseBackend(f, p)
	if startErr != nil {
		fmt.Fprintf(&b, "  backend: CANNOT START: %v\n", startErr)
	} else {
		fmt.Fprintf(&b, "  backend: %s", backend)
		if p.Backend == BackendAuto {
			b.WriteString(" (auto)")
		}
		b.WriteString("\n")
		if len(warnings) == 0 {
			b.WriteString("  enforced: everything in the profile\n")
		}
		for _, warn := range warnings {
			fmt.Fprintf(&b, "  not enforced: %s\n", warn)
		}
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		fmt.Fprintf(&b, "  | %s\n", line)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return startErr
}
