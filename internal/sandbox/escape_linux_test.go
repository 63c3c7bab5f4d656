//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mcpwarden/internal/egress"
	"mcpwarden/internal/procenv"
)

// The tests in this file run real escape attempts inside real sandboxes:
// the test binary is both the sandbox init and the attacker (see
// TestMain). Each attempt is paired with the legitimate action next to it,
// so that a sandbox that simply breaks everything does not pass.

// fakeDNS resolves test names to loopback addresses, so the egress tests
// send no DNS query and reach nothing outside this machine.
type fakeDNS map[string]string

func (d fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := d[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

// loopbackOnly is the egress dialer of these tests: a dial to anything
// but loopback fails the test instead of leaving the machine.
type loopbackOnly struct{ t *testing.T }

func (l loopbackOnly) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		l.t.Errorf("egress proxy dialled %s; tests may only reach loopback", addr)
		return nil, errors.New("refused by the test dialer")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

type events struct {
	mu sync.Mutex
	ev []egress.Event
}

func (e *events) add(ev egress.Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }
func (e *events) all() []egress.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]egress.Event(nil), e.ev...)
}

type harness struct {
	t      *testing.T
	s      *Sandboxer
	exe    string
	events *events
	dns    fakeDNS
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, exe: exe, events: &events{}, dns: fakeDNS{}}
	h.s = New(Options{
		InitPath: exe, OnEgress: h.events.add, Resolver: h.dns, Dialer: loopbackOnly{t},
		CacheDir: t.TempDir(),
	})
	return h
}

// requireBackend skips when the backend cannot run here, naming why.
func (h *harness) requireBackend(b Backend) {
	h.t.Helper()
	f := h.s.Features(context.Background())
	p := DefaultProfile()
	if reason := f.unusable(b, p); reason != "" {
		h.t.Skipf("SKIP: the %s backend is not available on this machine: %s", b, reason)
	}
}

// run runs one attack in a sandbox and returns its exit status and
// output.
func (h *harness) run(p Profile, extraEnv []string, stdin string, name string, args ...string) (int, string) {
	h.t.Helper()
	env := procenv.Build(nil, nil)
	env = append(env, attackEnv+"="+name)
	env = append(env, extraEnv...)
	sb, err := h.s.Command(context.Background(), &p, Spec{Name: "attacker", Path: h.exe, Args: args, Env: env})
	if err != nil {
		h.t.Fatalf("Command: %v", err)
	}
	defer sb.Close()
	var out bytes.Buffer
	sb.Cmd.Stdout, sb.Cmd.Stderr = &out, &out
	sb.Cmd.Stdin = strings.NewReader(stdin)
	err = sb.Cmd.Run()
	code := 0
	var xe interface{ ExitCode() int }
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		h.t.Fatalf("running the sandbox: %v", err)
	}
	if code == exitSetupFailed {
		h.t.Fatalf("sandbox setup failed: %s", out.String())
	}
	return code, out.String()
}

// runBatch runs several cases in one sandbox and checks each.
func (h *harness) runBatch(t *testing.T, p Profile, cases []escapeCase) {
	t.Helper()
	var args []string
	for _, c := range cases {
		args = append(args, strings.Join(append([]string{c.attack}, c.args...), batchSep))
	}
	code, out := h.run(p, nil, "", "batch", args...)
	if code != 0 {
		t.Fatalf("batch exited %d:\n%s", code, out)
	}
	chunks := strings.Split(out, "=== CASE ")
	if len(chunks) != len(cases)+1 {
		t.Fatalf("batch output has %d cases, want %d:\n%s", len(chunks)-1, len(cases), out)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chunk := chunks[i+1]
			body, status, found := strings.Cut(chunk, "=== STATUS ")
			if !found {
				t.Fatalf("no status in %q", chunk)
			}
			code := 0
			fmt.Sscanf(status, "%d", &code)
			checkCase(t, code, body, c)
		})
	}
}

type escapeCase struct {
	name string
	// attack and args run inside the sandbox.
	attack string
	args   []string
	// wantOK is whether the action must succeed (a legitimate path) or
	// fail (an escape attempt).
	wantOK bool
	// wantOut must appear in the output.
	wantOut string
}

func checkCase(t *testing.T, code int, out string, c escapeCase) {
	t.Helper()
	if got := code == 0; got != c.wantOK {
		verb := "fail"
		if c.wantOK {
			verb = "succeed"
		}
		t.Errorf("%s %v: exit %d, want it to %s; output:\n%s", c.attack, c.args, code, verb, out)
	}
	if !strings.Contains(out, c.wantOut) {
		t.Errorf("%s %v output = %q, want it to contain %q", c.attack, c.args, out, c.wantOut)
	}
}

var isolatingBackends = []Backend{BackendNative, BackendBubblewrap}

func TestEscapeFilesystem(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary.txt")
	os.WriteFile(canary, []byte("CANARY-CONTENT"), 0o600)
	ro := filepath.Join(dir, "ro")
	rw := filepath.Join(dir, "rw")
	os.Mkdir(ro, 0o755)
	os.Mkdir(rw, 0o755)
	os.WriteFile(filepath.Join(ro, "allowed.txt"), []byte("ALLOWED-CONTENT"), 0o600)
	// Symlinks planted inside allowed directories, pointing out.
	os.Symlink(canary, filepath.Join(ro, "abs-link"))
	os.Symlink("../canary.txt", filepath.Join(ro, "rel-link"))
	os.Symlink(dir, filepath.Join(rw, "dir-link"))

	cases := []escapeCase{
		{name: "read allowed file", attack: "read", args: []string{filepath.Join(ro, "allowed.txt")}, wantOK: true, wantOut: "ALLOWED-CONTENT"},
		{name: "read canary directly", attack: "read", args: []string{canary}, wantOut: "no such file"},
		{name: "read canary via ..", attack: "read", args: []string{ro + "/../canary.txt"}, wantOut: "no such file"},
		{name: "read canary via absolute symlink", attack: "read", args: []string{filepath.Join(ro, "abs-link")}, wantOut: "no such file"},
		{name: "read canary via relative symlink", attack: "read", args: []string{filepath.Join(ro, "rel-link")}, wantOut: "no such file"},
		{name: "read canary via directory symlink", attack: "read", args: []string{filepath.Join(rw, "dir-link", "canary.txt")}, wantOut: "no such file"},
		{name: "read canary via /proc/1/root", attack: "read", args: []string{"/proc/1/root" + canary}, wantOut: "FAIL"},
		{name: "read host shadow file", attack: "read", args: []string{"/etc/shadow"}, wantOut: "no such file"},
		{name: "write allowed dir", attack: "write", args: []string{filepath.Join(rw, "new.txt")}, wantOK: true, wantOut: "OK wrote"},
		{name: "write private tmp", attack: "write", args: []string{"/tmp/scratch"}, wantOK: true, wantOut: "OK wrote"},
		{name: "write private home", attack: "write", args: []string{SandboxHome + "/.config"}, wantOK: true, wantOut: "OK wrote"},
		{name: "write read-only dir", attack: "write", args: []string{filepath.Join(ro, "new.txt")}, wantOut: "read-only file system"},
		// These land in the private /tmp (the allowed directories'
		// parents exist there as empty mount points); the check below
		// is that the host's directory is untouched.
		{name: "write next to the allowed dirs", attack: "write", args: []string{filepath.Join(dir, "outside.txt")}, wantOK: true},
		{name: "write via directory symlink", attack: "write", args: []string{filepath.Join(rw, "dir-link", "via-link.txt")}, wantOK: true},
		{name: "write outside any writable path", attack: "write", args: []string{"/var/planted"}, wantOut: "FAIL"},
		{name: "write system dir", attack: "write", args: []string{"/usr/bin/planted"}, wantOut: "read-only file system"},
		{name: "write sandbox root", attack: "write", args: []string{"/planted"}, wantOut: "read-only file system"},
	}
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			p.ReadOnly = []string{ro}
			p.ReadWrite = []string{rw}
			h.runBatch(t, p, cases)
		})
	}
	for _, p := range []string{"outside.txt", "via-link.txt", "ro/new.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written on the host", p)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rw, "new.txt")); err != nil || string(b) != "written from the sandbox" {
		t.Errorf("the legitimate write did not reach the host: %q, %v", b, err)
	}
}

func TestEscapeEnvironment(t *testing.T) {
	h := newHarness(t)
	t.Setenv("MCPWARDEN_CANARY_SECRET", "canary-gateway-secret")
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			p.Env = map[string]string{"PROFILE_VAR": "from-profile"}
			code, out := h.run(p, []string{"DECLARED_VAR=declared"}, "", "env", "MCPWARDEN_CANARY_SECRET")
			checkCase(t, code, out, escapeCase{attack: "env", wantOut: "not found"})
			code, out = h.run(p, []string{"DECLARED_VAR=declared"}, "", "env", "DECLARED_VAR")
			checkCase(t, code, out, escapeCase{attack: "env declared", wantOK: true, wantOut: "environ:declared"})
			code, out = h.run(p, nil, "", "env", "PROFILE_VAR")
			checkCase(t, code, out, escapeCase{attack: "env profile", wantOK: true, wantOut: "environ:from-profile"})
		})
	}
}

func TestEscapeNetwork(t *testing.T) {
	h := newHarness(t)
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	hits := make(chan string, 16)
	go func() {
		for {
			c, err := canary.Accept()
			if err != nil {
				return
			}
			hits <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	legit, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("SKIP: cannot listen on 127.0.0.2 for the legitimate upstream: %v", err)
	}
	defer legit.Close()
	go func() {
		for {
			c, err := legit.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "upstream got "+line)
			}()
		}
	}()
	_, cport, _ := net.SplitHostPort(canary.Addr().String())
	_, lport, _ := net.SplitHostPort(legit.Addr().String())
	h.dns["allowed.test"] = "127.0.0.2"
	h.dns["canary.test"] = "127.0.0.1"
	h.dns["private.test"] = "10.0.0.1"
	h.dns["evil.test"] = "127.0.0.2"

	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			none := DefaultProfile()
			none.Backend = b
			eg := none
			eg.Network = NetworkEgress
			eg.Egress = Egress{
				Allow:    []string{"allowed.test:" + lport, "canary.test:" + cport, "private.test:443"},
				Internal: []string{"127.0.0.2/32"},
			}
			cases := []struct {
				escapeCase
				p Profile
			}{
				{escapeCase{name: "no network: host loopback canary", attack: "dial", args: []string{canary.Addr().String()}, wantOut: "FAIL"}, none},
				{escapeCase{name: "egress: host loopback canary directly", attack: "dial", args: []string{canary.Addr().String()}, wantOut: "FAIL"}, eg},
				{escapeCase{name: "egress: legitimate allowlisted host via proxy", attack: "proxy-connect", args: []string{"allowed.test:" + lport}, wantOK: true, wantOut: "tunnel: upstream got hello"}, eg},
				{escapeCase{name: "egress: host loopback canary via proxy", attack: "proxy-connect", args: []string{"127.0.0.1:" + cport}, wantOut: "not in the egress allowlist"}, eg},
				{escapeCase{name: "egress: allowlisted name resolving to host loopback", attack: "proxy-connect", args: []string{"canary.test:" + cport}, wantOut: "loopback address"}, eg},
				{escapeCase{name: "egress: non-allowlisted host", attack: "proxy-connect", args: []string{"evil.test:" + lport}, wantOut: "not in the egress allowlist"}, eg},
				{escapeCase{name: "egress: private address", attack: "proxy-connect", args: []string{"private.test:443"}, wantOut: "10.0.0.1 is a private address"}, eg},
				{escapeCase{name: "egress: plain HTTP to a non-allowlisted host", attack: "proxy-get", args: []string{"http://evil.test:" + lport + "/"}, wantOut: "not in the egress allowlist"}, eg},
			}
			byProfile := map[Network][]escapeCase{}
			for _, c := range cases {
				byProfile[c.p.Network] = append(byProfile[c.p.Network], c.escapeCase)
			}
			h.runBatch(t, none, byProfile[NetworkNone])
			h.runBatch(t, eg, byProfile[NetworkEgress])
		})
	}
	select {
	case from := <-hits:
		t.Errorf("the canary listener on the host's loopback was reached from %s", from)
	default:
	}
	var denied, allowed int
	for _, e := range h.events.all() {
		if e.Server != "attacker" {
			t.Errorf("egress event %+v: server = %q, want attacker", e, e.Server)
		}
		if e.Allowed {
			allowed++
		} else {
			denied++
		}
	}
	if allowed == 0 || denied < 4 {
		t.Errorf("egress events: %d allowed, %d denied; want every connection reported", allowed, denied)
	}
}

func TestEscapeLimits(t *testing.T) {
	h := newHarness(t)
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			p.Limits.Processes = 64
			p.Limits.Memory = 256 << 20

			t.Run("fork bomb", func(t *testing.T) {
				f := h.s.Features(context.Background())
				if f.Root && !f.CgroupV2.Available && !(f.PidMaxNS.Available && b == BackendNative) {
					t.Skipf("SKIP: as root without cgroup v2 or a per-namespace pid_max, the %s backend cannot bound processes (RLIMIT_NPROC exempts root)", b)
				}
				p := p
				p.Limits.Memory = 0 // thread stacks of a cgo test binary count against RLIMIT_DATA
				code, out := h.run(p, nil, "", "spawn", "5")
				checkCase(t, code, out, escapeCase{attack: "spawn 5", wantOK: true, wantOut: "OK spawned 5"})
				code, out = h.run(p, nil, "", "spawn", "1000")
				// Either the spawn fails or the runtime dies creating a
				// thread: both are EAGAIN from the process limit.
				if code == 0 || !strings.Contains(strings.ToLower(out), "resource temporarily unavailable") {
					t.Errorf("spawn 1000 with a limit of %d: exit %d, want EAGAIN; output:\n%.2000s", p.Limits.Processes, code, out)
				}
			})
			t.Run("memory hog", func(t *testing.T) {
				code, out := h.run(p, nil, "", "memhog", "16")
				checkCase(t, code, out, escapeCase{attack: "memhog 16", wantOK: true, wantOut: "OK allocated 16 MiB"})
				code, out = h.run(p, nil, "", "memhog", "1024")
				// The Go runtime usually reports "out of memory" when the
				// limit refuses it memory, but it can also crash inside the
				// collector (SIGSEGV) for want of memory: either way the hog
				// is stopped, which is what matters.
				lower := strings.ToLower(out)
				stopped := strings.Contains(lower, "out of memory") || strings.Contains(lower, "cannot allocate memory") || strings.Contains(out, "SIGSEGV")
				if code == 0 || !stopped {
					t.Errorf("memhog 1024 with a 256 MiB limit: exit %d, want it stopped for want of memory; output:\n%.2000s", code, out)
				}
				if strings.Contains(out, "allocated 512 MiB") {
					t.Errorf("the memory hog got past 512 MiB with a 256 MiB limit:\n%.2000s", out)
				}
			})
		})
	}
}

func TestEscapeKernel(t *testing.T) {
	h := newHarness(t)
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			code, out := h.run(p, nil, "", "ptrace")
			checkCase(t, code, out, escapeCase{attack: "ptrace", wantOut: "operation not permitted"})
			if !strings.Contains(out, "signal to child ok") {
				t.Errorf("the legitimate path (signalling its own child) failed:\n%s", out)
			}
			code, out = h.run(p, nil, "", "mount")
			checkCase(t, code, out, escapeCase{attack: "mount", wantOut: "mount: operation not permitted"})
			if !strings.Contains(out, "unshare: operation not permitted") || !strings.Contains(out, "write to /tmp ok") {
				t.Errorf("mount attack output = %q, want unshare refused and the /tmp write working", out)
			}
		})
	}
}

func TestLandlockLayer(t *testing.T) {
	h := newHarness(t)
	f := h.s.Features(context.Background())
	if !f.Landlock.Available {
		t.Skipf("SKIP: Landlock is not available: %s", f.Landlock.Detail)
	}
	h.requireBackend(BackendNative)
	// Writing /proc/self/comm is allowed by the mount namespace: only
	// Landlock refuses it. Connecting to one's own listener inside the
	// namespace likewise.
	on := DefaultProfile()
	on.Backend = BackendNative
	off := on
	off.Landlock = RequireOff
	code, out := h.run(off, nil, "", "proc-write")
	checkCase(t, code, out, escapeCase{attack: "proc-write (landlock off)", wantOK: true, wantOut: "OK"})
	code, out = h.run(on, nil, "", "proc-write")
	checkCase(t, code, out, escapeCase{attack: "proc-write (landlock on)", wantOut: "permission denied"})
	if f.LandlockTCP.Available {
		code, out = h.run(off, nil, "", "dial-self")
		checkCase(t, code, out, escapeCase{attack: "dial-self (landlock off)", wantOK: true, wantOut: "OK connected"})
		code, out = h.run(on, nil, "", "dial-self")
		checkCase(t, code, out, escapeCase{attack: "dial-self (landlock on)", wantOut: "permission denied"})
	}
}

func TestNothingSurvivesTheServer(t *testing.T) {
	h := newHarness(t)
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			marker := fmt.Sprintf("mcpwarden-daemon-marker-%d-%s", time.Now().UnixNano(), b)
			code, out := h.run(p, nil, "", "daemon", marker)
			checkCase(t, code, out, escapeCase{attack: "daemon", wantOK: true, wantOut: "left pid"})
			// SIGKILL is delivered asynchronously; give the kernel a
			// moment to finish the processes off.
			var pids []string
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if pids = processesWith(marker); len(pids) == 0 {
					break
				}
			}
			if len(pids) > 0 {
				t.Errorf("processes %v survived the server", pids)
			}
		})
	}
}

// processesWith returns the host PIDs whose command line contains s.
func processesWith(s string) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestStdioPassesThrough(t *testing.T) {
	h := newHarness(t)
	for _, b := range isolatingBackends {
		t.Run(string(b), func(t *testing.T) {
			h.t = t
			h.requireBackend(b)
			p := DefaultProfile()
			p.Backend = b
			code, out := h.run(p, nil, "ping over stdin\n", "stdio")
			checkCase(t, code, out, escapeCase{attack: "stdio", wantOK: true, wantOut: "OK echo ping over stdin"})
		})
	}
}

// TestEgressEventsCarryCause drives the API the gateway uses: the cause
// label set on the Sandboxed reaches the audit event of a connection the
// server makes.
func TestEgressEventsCarryCause(t *testing.T) {
	h := newHarness(t)
	h.requireBackend(BackendNative)
	h.dns["denied.test"] = "127.0.0.2"
	p := DefaultProfile()
	p.Backend = BackendNative
	p.Network = NetworkEgress
	p.Egress.Allow = []string{"allowed.test:443"}
	env := append(procenv.Build(nil, nil), attackEnv+"=proxy-connect")
	sb, err := h.s.Command(context.Background(), &p, Spec{Name: "cause-test", Path: h.exe, Args: []string{"denied.test:443"}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sb.SetCause("tools/call fetch #42")
	if out, err := sb.Cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not in the egress allowlist") {
		t.Fatalf("proxy-connect = %v:\n%s", err, out)
	}
	evs := h.events.all()
	if len(evs) != 1 || evs[0].Cause != "tools/call fetch #42" || evs[0].Server != "cause-test" || evs[0].Allowed {
		t.Errorf("events = %+v, want one denial for server cause-test with the cause label", evs)
	}
}
