//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Descriptors the init inherits.
const (
	planFDNum = 3
	ctlFDNum  = 4
)

// exitSetupFailed is the init's exit status when the sandbox could not be
// set up and the server was not started.
const exitSetupFailed = 125

// RunInit runs the sandbox init and returns the process exit status. The
// hidden `mcpwarden __sandbox-init` command calls it, and so does the
// TestMain of a test binary used as Options.InitPath.
//
// The init is PID 1 of the sandbox's PID namespace. It reads its plan
// from an inherited descriptor, builds the sandbox's root filesystem
// (native backend), opens the egress listener inside the network
// namespace, applies the limits, Landlock, capability drop and seccomp
// filter, starts the server with the inherited stdio, forwards signals
// to it, and exits with its status once it has exited, killing every
// process left behind.
func RunInit() int {
	// Credentials, Landlock and seccomp are per thread: the restrictions
	// are applied to this thread, which then forks the server.
	runtime.LockOSThread()
	unix.CloseOnExec(planFDNum)
	unix.CloseOnExec(ctlFDNum)
	pl, err := readPlan()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcpwarden sandbox: %v\n", err)
		return exitSetupFailed
	}
	code, err := runInit(pl)
	if err != nil {
		sendCtl(ctlMsg{Type: "error", Error: err.Error()}, -1)
		fmt.Fprintf(os.Stderr, "mcpwarden sandbox: setup failed, the server was not started: %v\n", err)
		return exitSetupFailed
	}
	return code
}

func readPlan() (*plan, error) {
	// Only a plan mcpwarden wrote will do: descriptor 3 must be the
	// sealed memory file, not whatever a caller happened to leave open.
	if target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(planFDNum)); err != nil || !strings.HasPrefix(target, "/memfd:"+planName) {
		return nil, errors.New("no sandbox plan on descriptor 3; this command is run by mcpwarden itself")
	}
	f := os.NewFile(planFDNum, "sandbox-plan")
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the sandbox plan: %w (this command is run by mcpwarden itself)", err)
	}
	var pl plan
	if err := json.Unmarshal(data, &pl); err != nil {
		return nil, fmt.Errorf("decoding the sandbox plan: %w", err)
	}
	return &pl, nil
}

func sendCtl(m ctlMsg, fd int) error {
	data, _ := json.Marshal(m)
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return unix.Sendmsg(ctlFDNum, data, oob, nil, 0)
}

func runInit(pl *plan) (int, error) {
	if pl.SetupRoot {
		if err := setupRoot(pl); err != nil {
			return 0, err
		}
		if err := unix.Sethostname([]byte(pl.Hostname)); err != nil {
			return 0, fmt.Errorf("sethostname: %w", err)
		}
		if pl.Network != NetworkHost {
			if err := loopbackUp(); err != nil {
				return 0, err
			}
		}
	}
	if pl.Network == NetworkEgress {
		fd, err := listenTCP(pl.ProxyPort)
		if err != nil {
			return 0, err
		}
		err = sendCtl(ctlMsg{Type: "listener"}, fd)
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("handing the egress listener to mcpwarden: %w", err)
		}
	}
	if err := os.Chdir(pl.Dir); err != nil {
		return 0, fmt.Errorf("working directory: %w", err)
	}
	if err := setLimits(pl.Limits); err != nil {
		return 0, err
	}
	// The init stays PID 1 and holds no secrets, but nothing in the
	// sandbox should be able to read its memory or descriptors.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("prctl(PR_SET_DUMPABLE): %w", err)
	}
	if err := restrictThread(pl); err != nil {
		return 0, err
	}
	if pl.Probe {
		sendCtl(ctlMsg{Type: "started"}, -1)
		return 0, nil
	}
	pid, err := syscall.ForkExec(pl.Path, pl.Argv, &syscall.ProcAttr{
		Dir:   pl.Dir,
		Env:   pl.Env,
		Files: []uintptr{0, 1, 2},
		// A new session: the server cannot inject input into a terminal
		// it was started from (TIOCSTI).
		Sys: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", pl.Path, err)
	}
	sendCtl(ctlMsg{Type: "started"}, -1)
	unix.Close(ctlFDNum)
	return superviseServer(pid), nil
}

// superviseServer forwards signals to the server, reaps every process
// that ends up parented to the init, and once the server has exited kills
// what is left and returns the server's status.
func superviseServer(pid int) int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH)
	go func() {
		for s := range sigs {
			unix.Kill(pid, s.(syscall.Signal))
		}
	}()
	code := 0
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			break
		}
		if got == pid {
			switch {
			case ws.Exited():
				code = ws.ExitStatus()
			case ws.Signaled():
				code = 128 + int(ws.Signal())
			}
			break
		}
	}
	signal.Stop(sigs)
	// As PID 1, kill(-1) reaches every other process of the namespace.
	unix.Kill(-1, unix.SIGKILL)
	for {
		if _, err := unix.Wait4(-1, nil, 0, nil); err != nil && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	return code
}

func setLimits(l Limits) error {
	set := func(name string, res int, v uint64) error {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("setrlimit(%s, %d): %w", name, v, err)
		}
		return nil
	}
	if err := set("RLIMIT_CORE", unix.RLIMIT_CORE, 0); err != nil {
		return err
	}
	if l.OpenFiles > 0 {
		if err := set("RLIMIT_NOFILE", unix.RLIMIT_NOFILE, uint64(l.OpenFiles)); err != nil {
			return err
		}
	}
	if l.Processes > 0 {
		if err := set("RLIMIT_NPROC", unix.RLIMIT_NPROC, uint64(l.Processes)); err != nil {
			return err
		}
	}
	if l.Memory > 0 {
		if err := set("RLIMIT_DATA", unix.RLIMIT_DATA, uint64(l.Memory)); err != nil {
			return err
		}
	}
	if l.FileSize > 0 {
		if err := set("RLIMIT_FSIZE", unix.RLIMIT_FSIZE, uint64(l.FileSize)); err != nil {
			return err
		}
	}
	if l.CPUTime > 0 {
		secs := (int64(l.CPUTime) + 999_999_999) / 1e9
		if err := set("RLIMIT_CPU", unix.RLIMIT_CPU, uint64(secs)); err != nil {
			return err
		}
	}
	return nil
}

// restrictThread drops every privilege of the calling thread, which the
// server inherits: capabilities, then Landlock, then the seccomp filter
// (last, as it forbids some of the calls before it).
func restrictThread(pl *plan) error {
	if pl.DropCaps {
		if err := dropCapabilities(); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if err := applyLandlock(pl); err != nil {
		return err
	}
	if err := clearCapabilities(); err != nil {
		return err
	}
	return loadSeccomp()
}

func dropCapabilities() error {
	const bits = 1<<0 | 1<<1 | // SECBIT_NOROOT, _LOCKED: uid 0 gains nothing at exec
		1<<2 | 1<<3 | // SECBIT_NO_SETUID_FIXUP, _LOCKED
		1<<5 | // SECBIT_KEEP_CAPS_LOCKED
		1<<6 | 1<<7 // SECBIT_NO_CAP_AMBIENT_RAISE, _LOCKED
	if err := unix.Prctl(unix.PR_SET_SECUREBITS, bits, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_SECUREBITS): %w", err)
	}
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(string(trimNL(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// clearCapabilities empties the ambient, effective, permitted and
// inheritable sets, and checks that they are empty (under bubblewrap,
// which has dropped them already, this is the check).
func clearCapabilities() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for _, d := range data {
		if d.Effective|d.Permitted|d.Inheritable != 0 {
			return errors.New("capabilities remain after dropping them")
		}
	}
	return nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	return nil
}

// listenTCP opens the egress listener on 127.0.0.1:port inside the
// sandbox's network namespace. The parent accepts on it: connections
// stay in this namespace, the proxy's dials happen in the host's.
func listenTCP(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("egress listener: %w", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("egress listener on 127.0.0.1:%d: %w", port, err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("egress listener: %w", err)
	}
	return fd, nil
}

// setupRoot builds the sandbox's root in a fresh tmpfs from the plan's
// mounts and pivots into it, so nothing of the host but the listed paths
// exists for the server.
func setupRoot(pl *plan) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := pl.RootDir
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("creating the sandbox root: %w", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=4m,nr_inodes=8192,mode=0755"); err != nil {
		return fmt.Errorf("mounting the sandbox root: %w", err)
	}
	for _, m := range pl.Mounts {
		dst := filepath.Join(root, m.Dst)
		var err error
		switch m.Kind {
		case mountBind:
			err = bindMount(m, dst)
		case mountTmpfs:
			err = tmpfsMount(dst, m.Size, m.Mode, unix.MS_NOSUID|unix.MS_NODEV)
		case mountFile:
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.WriteFile(dst, []byte(m.Data), 0o644)
			}
		case mountProc:
			err = procMount(dst, pl.PidMax)
		case mountDev:
			err = devMount(dst, pl.Limits)
		default:
			err = fmt.Errorf("unknown mount kind %q", m.Kind)
		}
		if err != nil {
			return fmt.Errorf("mounting %s: %w", m.Dst, err)
		}
	}
	old := filepath.Join(root, ".oldroot")
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	if err := os.Remove("/.oldroot"); err != nil {
		return err
	}
	return setattr("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false)
}

func setattr(path string, attr uint64, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, path, uint(flags), &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr(%s): %w", path, err)
	}
	return nil
}

func bindMount(m mount, dst string) error {
	if m.Optional {
		// System entries are recreated as they are: a symlink (/bin ->
		// usr/bin on merged-/usr systems) stays a symlink.
		fi, err := os.Lstat(m.Src)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(m.Src)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.Symlink(target, dst)
		}
	}
	fi, err := os.Stat(m.Src)
	if err != nil {
		if m.Optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := mountPoint(dst, fi.IsDir()); err != nil {
		return err
	}
	if err := unix.Mount(m.Src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount of %s: %w", m.Src, err)
	}
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if !m.RW {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	return setattr(dst, attr, true)
}

// mountPoint creates an empty directory or file to mount on.
func mountPoint(dst string, dir bool) error {
	if dir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("creating mount point: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		if _, serr := os.Stat(dst); serr == nil {
			return nil // exists on a read-only mount already
		}
		return fmt.Errorf("creating mount point: %w", err)
	}
	return f.Close()
}

func tmpfsMount(dst string, size ByteSize, mode uint32, flags uintptr) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("creating mount point: %w", err)
	}
	data := "mode=" + strconv.FormatUint(uint64(mode), 8)
	if size > 0 {
		data += ",size=" + strconv.FormatInt(int64(size), 10)
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", flags, data); err != nil {
		return fmt.Errorf("tmpfs: %w", err)
	}
	return nil
}

// procReadOnly and procMasked follow what container runtimes protect: the
// server's uid may be the gateway's (root, when the gateway is), and
// files such as /proc/sysrq-trigger check only the uid.
var (
	procReadOnly = []string{"sys", "sysrq-trigger", "irq", "bus", "fs"}
	procMasked   = []string{"kcore", "keys", "timer_list", "sched_debug", "latency_stats", "kallsyms", "acpi", "scsi"}
)

func procMount(dst string, pidMax int) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("proc", dst, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("proc: %w", err)
	}
	if pidMax > 0 {
		if err := os.WriteFile(filepath.Join(dst, "sys/kernel/pid_max"), []byte(strconv.Itoa(pidMax)), 0); err != nil {
			return fmt.Errorf("limiting the PID namespace to %d pids: %w", pidMax-1, err)
		}
	}
	for _, p := range procReadOnly {
		path := filepath.Join(dst, p)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("protecting /proc/%s: %w", p, err)
		}
		if err := setattr(path, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
			return err
		}
	}
	for _, p := range procMasked {
		path := filepath.Join(dst, p)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
		} else {
			err = unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking /proc/%s: %w", p, err)
		}
	}
	return nil
}

func devMount(dst string, l Limits) error {
	if err := tmpfsMount(dst, 1<<20, 0o755, unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
		return err
	}
	for _, d := range devices {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		target := filepath.Join(dst, filepath.Base(d))
		if err := mountPoint(target, false); err != nil {
			return err
		}
		if err := unix.Mount(d, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding %s: %w", d, err)
		}
		if err := setattr(target, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	if err := tmpfsMount(filepath.Join(dst, "shm"), 64<<20, 0o1777, unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return err
	}
	return setattr(dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false)
}
