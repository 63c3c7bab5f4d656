//go:build linux

package sandbox

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// BenchmarkStart measures starting and waiting for /bin/true bare and in
// each sandbox: the difference is the sandbox's added start-up time.
// "native" builds the full sandbox (user, mount, PID, IPC, UTS and
// network namespaces, pivoted root, Landlock, seccomp, rlimits);
// "native-hostnet" skips the network namespace, whose creation and
// teardown dominate on many kernels.
func BenchmarkStart(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{InitPath: exe})
	f := s.Features(context.Background())
	for _, c := range []struct {
		name    string
		backend Backend
		network Network
	}{
		{"native", BackendNative, NetworkNone},
		{"native-hostnet", BackendNative, NetworkHost},
		{"bubblewrap", BackendBubblewrap, NetworkNone},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := DefaultProfile()
			p.Backend, p.Network = c.backend, c.network
			if reason := f.unusable(c.backend, p); reason != "" {
				b.Skipf("SKIP: %s: %s", c.backend, reason)
			}
			b.ReportAllocs()
			for b.Loop() {
				sb, err := s.Command(context.Background(), &p, Spec{Name: "bench", Path: "/bin/true", Env: []string{"PATH=/usr/bin:/bin"}})
				if err != nil {
					b.Fatal(err)
				}
				if out, err := sb.Cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				sb.Close()
			}
		})
	}
}
