package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// plan is everything the sandbox init needs, computed by the parent and
// handed to the init through an inherited file descriptor (never argv or
// the environment, which other processes can read).
type plan struct {
	Backend  Backend  `json:"backend"`
	Probe    bool     `json:"probe,omitempty"` // set up, then exit 0 without running a server
	Path     string   `json:"path"`            // the server's executable, as seen inside
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Dir      string   `json:"dir"`
	Hostname string   `json:"hostname"`

	// SetupRoot is set for the native backend: the init builds the root
	// from Mounts in RootDir (a fresh directory of the parent's) and
	// pivots into it. Bubblewrap has done that before the init runs.
	SetupRoot bool    `json:"setup_root,omitempty"`
	RootDir   string  `json:"root_dir,omitempty"`
	Mounts    []mount `json:"mounts,omitempty"`

	Network   Network `json:"network"`
	ProxyPort int     `json:"proxy_port,omitempty"`

	Limits   Limits      `json:"limits"`
	PidMax   int         `json:"pid_max,omitempty"`
	Landlock Requirement `json:"landlock"`
	// LandlockRO and LandlockRW are the paths inside the sandbox that
	// Landlock allows, read-only and read-write.
	LandlockRO []string `json:"landlock_ro,omitempty"`
	LandlockRW []string `json:"landlock_rw,omitempty"`
	// DropCaps is false for bubblewrap, which has already dropped every
	// capability before the init runs.
	DropCaps bool `json:"drop_caps,omitempty"`
}

type mountKind string

const (
	mountBind  mountKind = "bind"
	mountTmpfs mountKind = "tmpfs"
	mountFile  mountKind = "file" // a generated read-only file with Data
	mountProc  mountKind = "proc"
	mountDev   mountKind = "dev" // a minimal /dev
)

type mount struct {
	Kind     mountKind `json:"kind"`
	Src      string    `json:"src,omitempty"` // host path, symlinks resolved
	Dst      string    `json:"dst"`           // path inside
	RW       bool      `json:"rw,omitempty"`
	Optional bool      `json:"optional,omitempty"` // skip when Src is missing
	Size     ByteSize  `json:"size,omitempty"`
	Mode     uint32    `json:"mode,omitempty"`
	Data     string    `json:"data,omitempty"`
}

// systemDirs are mounted read-only when they exist: enough to run
// interpreters and shared libraries, nothing that holds user data.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcEntries are the parts of /etc programs commonly need. /etc as a
// whole is not mounted: it holds credentials (shadow, ssh host keys) and
// configuration the server has no business reading.
var etcEntries = []string{
	"/etc/alternatives", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/crypto-policies",
	"/etc/gai.conf", "/etc/host.conf", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/localtime", "/etc/mime.types", "/etc/nsswitch.conf", "/etc/os-release", "/etc/pki",
	"/etc/protocols", "/etc/services", "/etc/ssl", "/etc/timezone", "/etc/java-17-openjdk",
	"/etc/python3", "/etc/npmrc", "/etc/gitconfig",
}

// devices are the device nodes bound into the minimal /dev.
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// proxyPort is where the egress proxy listens inside the network
// namespace: fixed, as nothing else can bind there.
const proxyPort = 3128

const hostname = "mcpwarden-sandbox"

// hostPaths are the resolved host paths a sandbox makes visible.
type hostPaths struct {
	ro, rw []mount
}

// buildPlan computes the plan for a server: mounts, environment and
// limits. cacheRoot is the server's cache directory; stateDir holds the
// root mount point and generated files.
func buildPlan(p Profile, spec Spec, exe, cacheRoot, stateDir string, f Features) (*plan, error) {
	pl := &plan{
		Backend:  p.Backend,
		Path:     exe,
		Argv:     append([]string{exe}, spec.Args...),
		Hostname: hostname,
		Network:  p.Network,
		Limits:   p.Limits,
		Landlock: p.Landlock,
		RootDir:  filepath.Join(stateDir, "root"),
	}
	if pl.Network == NetworkEgress {
		pl.ProxyPort = proxyPort
	}
	if f.PidMaxNS.Available && p.Backend == BackendNative {
		// pid_max caps pid values, so it allows pid_max-1 tasks; the
		// kernel refuses values below minPidMax.
		pl.PidMax = max(p.Limits.Processes+1, minPidMax)
	}
	var mounts []mount
	for _, d := range systemDirs {
		mounts = append(mounts, mount{Kind: mountBind, Src: d, Dst: d, Optional: true})
	}
	for _, e := range etcEntries {
		mounts = append(mounts, mount{Kind: mountBind, Src: e, Dst: e, Optional: true})
	}
	mounts = append(mounts,
		mount{Kind: mountFile, Dst: "/etc/passwd", Data: "root:x:0:0:sandbox:" + SandboxHome + ":/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
		mount{Kind: mountFile, Dst: "/etc/group", Data: "root:x:0:\nnogroup:x:65534:\n"},
		mount{Kind: mountFile, Dst: "/etc/hosts", Data: "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
	)
	if p.Network == NetworkHost {
		mounts = append(mounts, mount{Kind: mountBind, Src: "/etc/resolv.conf", Dst: "/etc/resolv.conf", Optional: true})
	}
	mounts = append(mounts,
		mount{Kind: mountProc, Dst: "/proc"},
		mount{Kind: mountDev, Dst: "/dev"},
		mount{Kind: mountTmpfs, Dst: SandboxHome, RW: true, Size: p.HomeSize, Mode: 0o700},
		mount{Kind: mountTmpfs, Dst: SandboxTmp, RW: true, Size: p.TmpSize, Mode: 0o1777},
	)

	// The executable itself, and its installation prefix when it lives
	// in a bin directory (nvm, /opt/node): interpreters find their
	// libraries there.
	user, err := userPaths(p, exe)
	if err != nil {
		return nil, err
	}
	mounts = append(mounts, user.ro...)
	mounts = append(mounts, user.rw...)
	for _, c := range p.Caches {
		host := c.Host
		if !filepath.IsAbs(host) {
			if cacheRoot == "" {
				return nil, errors.New("caches: no cache directory (set Options.CacheDir or XDG_CACHE_HOME)")
			}
			host = filepath.Join(cacheRoot, host)
		}
		if err := os.MkdirAll(host, 0o700); err != nil {
			return nil, fmt.Errorf("creating cache %s: %w", host, err)
		}
		dst := c.Path
		if !filepath.IsAbs(dst) {
			dst = filepath.Join(SandboxHome, dst)
		}
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", host, err)
		}
		mounts = append(mounts, mount{Kind: mountBind, Src: real, Dst: dst, RW: true})
	}
	// Parents before children, so a read-write directory inside a
	// read-only one is mounted on top of it, not hidden below it.
	slices.SortStableFunc(mounts, func(a, b mount) int { return depth(a.Dst) - depth(b.Dst) })
	if mounts, err = dedupe(mounts); err != nil {
		return nil, err
	}
	pl.Mounts = mounts

	pl.Dir = SandboxHome
	if spec.Dir != "" {
		dir, err := filepath.Abs(spec.Dir)
		if err != nil {
			return nil, err
		}
		if !visible(mounts, dir, false) {
			return nil, fmt.Errorf("working directory %s is not visible in the sandbox; add it (or a parent) to read_only or read_write", dir)
		}
		pl.Dir = dir
	}
	for _, m := range mounts {
		if m.Kind == mountProc || m.Kind == mountFile {
			continue
		}
		if m.Kind == mountDev {
			pl.LandlockRW = append(pl.LandlockRW, devices...)
			pl.LandlockRW = append(pl.LandlockRW, "/dev/shm")
			pl.LandlockRO = append(pl.LandlockRO, "/dev")
			continue
		}
		if m.RW {
			pl.LandlockRW = append(pl.LandlockRW, m.Dst)
		} else {
			pl.LandlockRO = append(pl.LandlockRO, m.Dst)
		}
	}
	pl.LandlockRO = append(pl.LandlockRO, "/proc", "/etc")
	return pl, nil
}

func userPaths(p Profile, exe string) (hostPaths, error) {
	var hp hostPaths
	add := func(path string, rw bool) error {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			field := "read_only"
			if rw {
				field = "read_write"
			}
			return fmt.Errorf("%s path %s: %w", field, path, err)
		}
		m := mount{Kind: mountBind, Src: real, Dst: filepath.Clean(path), RW: rw}
		if rw {
			hp.rw = append(hp.rw, m)
		} else {
			hp.ro = append(hp.ro, m)
		}
		return nil
	}
	// exe has its symlinks resolved, so the program sees its real path
	// and finds files relative to it.
	if !underSystemDirs(exe) && !coveredBy(p.ReadOnly, exe) && !coveredBy(p.ReadWrite, exe) {
		dir := filepath.Dir(exe)
		prefix := filepath.Dir(dir)
		home, _ := os.UserHomeDir()
		if filepath.Base(dir) == "bin" && prefix != "/" && prefix != filepath.Clean(home) {
			if err := add(prefix, false); err != nil {
				return hp, err
			}
		} else if err := add(exe, false); err != nil {
			return hp, err
		}
	}
	for _, path := range p.ReadOnly {
		if err := add(path, false); err != nil {
			return hp, err
		}
	}
	for _, path := range p.ReadWrite {
		if err := add(path, true); err != nil {
			return hp, err
		}
	}
	return hp, nil
}

func underSystemDirs(p string) bool { return coveredBy(systemDirs, p) }

// coveredBy reports whether p is one of dirs or below one.
func coveredBy(dirs []string, p string) bool {
	p = filepath.Clean(p)
	for _, d := range dirs {
		d = filepath.Clean(d)
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// dedupe drops repeated mounts of the same path with the same access and
// rejects a path listed both read-only and read-write.
func dedupe(ms []mount) ([]mount, error) {
	seen := map[string]mount{}
	out := ms[:0]
	for _, m := range ms {
		if prev, ok := seen[m.Dst]; ok {
			if prev.RW != m.RW || prev.Kind != m.Kind {
				return nil, fmt.Errorf("%s is listed both read-only and read-write (or as a cache); list each path once", m.Dst)
			}
			continue
		}
		seen[m.Dst] = m
		out = append(out, m)
	}
	return out, nil
}

// visible reports whether path inside the sandbox is a mount or below
// one. With hostOnly, only bind mounts of host paths count.
func visible(ms []mount, path string, hostOnly bool) bool {
	for _, m := range ms {
		if m.Kind == mountFile || hostOnly && m.Kind != mountBind {
			continue
		}
		if path == m.Dst || strings.HasPrefix(path, strings.TrimSuffix(m.Dst, "/")+"/") {
			return true
		}
	}
	return false
}
