package sandbox

import (
	"fmt"
	"strings"
)

// Feature is one kernel feature or backend, as probed.
type Feature struct {
	Available bool
	// Detail is the version or path when available, and why not (with
	// what would fix it) when not.
	Detail string
}

func (f Feature) String() string {
	if f.Available {
		if f.Detail == "" {
			return "available"
		}
		return "available (" + f.Detail + ")"
	}
	return "NOT available: " + f.Detail
}

// Features are what this machine offers for sandboxing.
type Features struct {
	OS string
	// Root is whether the gateway runs as root (uid 0), which changes how
	// some limits work.
	Root bool

	UserNS      Feature // unprivileged user namespaces
	Seccomp     Feature // seccomp-bpf filters
	Landlock    Feature // Landlock filesystem rules
	LandlockABI int     // 0 when unavailable
	LandlockTCP Feature // Landlock TCP connect rules (ABI 4+)
	CgroupV2    Feature // a delegated cgroup v2 subtree with memory and pids
	PidMaxNS    Feature // a per-PID-namespace pid_max (Linux 6.14+)

	Native     Feature // a trial run of the native backend
	Bubblewrap Feature
	GVisor     Feature

	BwrapPath string
	RunscPath string
}

// backendFeature returns the probe result for a backend.
func (f Features) backendFeature(b Backend) Feature {
	switch b {
	case BackendNative:
		return f.Native
	case BackendBubblewrap:
		return f.Bubblewrap
	case BackendGVisor:
		return f.GVisor
	case BackendNone:
		return Feature{Available: true, Detail: "no isolation"}
	}
	return Feature{Detail: fmt.Sprintf("unknown backend %q", b)}
}

// unusable returns why backend b cannot run profile p here, or "".
func (f Features) unusable(b Backend, p Profile) string {
	bf := f.backendFeature(b)
	if !bf.Available {
		return bf.Detail
	}
	switch b {
	case BackendNative, BackendBubblewrap:
		if p.Landlock == RequireOn && !f.Landlock.Available {
			return "the profile sets landlock: require but Landlock is not available (" + f.Landlock.Detail + ")"
		}
		if !f.Seccomp.Available {
			return "seccomp is not available (" + f.Seccomp.Detail + ")"
		}
	case BackendGVisor:
		if p.Network == NetworkEgress {
			return "network: egress is not supported with gVisor yet (use network: none or host, or the native or bubblewrap backend)"
		}
		if p.Landlock == RequireOn {
			return "landlock: require does not apply to gVisor, whose own kernel enforces file access (set landlock: auto)"
		}
	}
	return ""
}

// suggest names the backends or settings that would work for p, for an
// error about the failed one.
func (f Features) suggest(p Profile, failed Backend) string {
	var ok []string
	for _, b := range []Backend{BackendNative, BackendBubblewrap, BackendGVisor} {
		if b != failed && f.unusable(b, p) == "" {
			ok = append(ok, "backend: "+string(b))
		}
	}
	if p.Landlock == RequireOn && !f.Landlock.Available {
		ok = append(ok, "landlock: auto (mount namespaces still hide the rest of the filesystem)")
	}
	if len(ok) == 0 {
		return "no other backend works here either (run 'mcpwarden sandbox doctor'); backend: none would run the server unsandboxed"
	}
	return "these would work: " + strings.Join(ok, ", ")
}

// weaknesses lists what backend b does not enforce for p on this machine.
func (f Features) weaknesses(b Backend, p Profile) []string {
	if b == BackendGVisor || b == BackendNone {
		return nil
	}
	var w []string
	if p.Landlock != RequireOff && !f.Landlock.Available {
		w = append(w, "Landlock is not available ("+f.Landlock.Detail+"): file access is confined by the mount namespace alone")
	}
	if p.Network != NetworkHost && p.Landlock != RequireOff && f.Landlock.Available && !f.LandlockTCP.Available {
		w = append(w, "Landlock TCP rules are not available ("+f.LandlockTCP.Detail+"): connections are confined by the network namespace alone")
	}
	if !f.CgroupV2.Available {
		limit := "memory is limited by RLIMIT_DATA and processes by RLIMIT_NPROC"
		if f.PidMaxNS.Available && b == BackendNative {
			limit += " and the PID namespace's pid_max"
		}
		w = append(w, "cgroup v2 is not delegated ("+f.CgroupV2.Detail+"): "+limit)
	}
	if f.Root && !f.CgroupV2.Available {
		if f.PidMaxNS.Available && b == BackendNative {
			if p.Limits.Processes < minPidMax-1 {
				w = append(w, fmt.Sprintf("the gateway runs as root, which RLIMIT_NPROC exempts: the process limit is %d (the smallest pid_max allows), not %d", minPidMax-1, p.Limits.Processes))
			}
		} else {
			w = append(w, "the gateway runs as root, which RLIMIT_NPROC exempts: the process limit is NOT enforced (needs cgroup v2 delegation, or Linux 6.14+ with the native backend)")
		}
	}
	return w
}

// minPidMax is the kernel's lower bound for pid_max (RESERVED_PIDS + 1).
const minPidMax = 301
