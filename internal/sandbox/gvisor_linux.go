//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func gvisorFeature(ctx context.Context, f *Features) Feature {
	runsc, err := exec.LookPath("runsc")
	if err != nil {
		return Feature{Detail: "runsc is not installed (see https://gvisor.dev/docs/user_guide/install/)"}
	}
	f.RunscPath = runsc
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, runsc, "--version").Output()
	if err != nil {
		return Feature{Detail: "runsc --version failed: " + err.Error()}
	}
	v, _, _ := strings.Cut(string(out), "\n")
	return Feature{Available: true, Detail: runsc + ", " + strings.TrimSpace(v)}
}

// ociSpec is the subset of the OCI runtime spec that runsc needs.
type ociSpec struct {
	Version  string     `json:"ociVersion"`
	Process  ociProcess `json:"process"`
	Root     ociRoot    `json:"root"`
	Hostname string     `json:"hostname"`
	Mounts   []ociMount `json:"mounts"`
	Linux    ociLinux   `json:"linux"`
}

type ociProcess struct {
	Terminal        bool        `json:"terminal"`
	User            ociUser     `json:"user"`
	Args            []string    `json:"args"`
	Env             []string    `json:"env"`
	Cwd             string      `json:"cwd"`
	NoNewPrivileges bool        `json:"noNewPrivileges"`
	Rlimits         []ociRlimit `json:"rlimits,omitempty"`
	Capabilities    struct{}    `json:"capabilities"`
}

type ociUser struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

type ociRlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	Namespaces []ociNamespace `json:"namespaces"`
	Resources  *ociResources  `json:"resources,omitempty"`
}

type ociNamespace struct {
	Type string `json:"type"`
}

type ociResources struct {
	Memory *struct {
		Limit int64 `json:"limit"`
	} `json:"memory,omitempty"`
	Pids *struct {
		Limit int64 `json:"limit"`
	} `json:"pids,omitempty"`
}

// gvisorSpec translates a plan to an OCI bundle config for runsc. gVisor
// interposes its own kernel, so Landlock and the seccomp filter of the
// other backends do not apply; the mounts and limits do.
func gvisorSpec(pl *plan) ociSpec {
	s := ociSpec{
		Version:  "1.0.2",
		Hostname: pl.Hostname,
		Root:     ociRoot{Path: "rootfs", Readonly: true},
		Process: ociProcess{
			Args: pl.Argv, Env: pl.Env, Cwd: pl.Dir, NoNewPrivileges: true,
			User: ociUser{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())},
		},
	}
	for _, ns := range []string{"pid", "ipc", "uts", "mount", "network"} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, ociNamespace{Type: ns})
	}
	for _, m := range pl.Mounts {
		switch m.Kind {
		case mountBind:
			if _, err := os.Stat(m.Src); err != nil {
				continue
			}
			opt := []string{"rbind", "nosuid", "nodev", "ro"}
			if m.RW {
				opt[3] = "rw"
			}
			s.Mounts = append(s.Mounts, ociMount{Destination: m.Dst, Type: "bind", Source: m.Src, Options: opt})
		case mountTmpfs:
			opt := []string{"nosuid", "nodev", "mode=" + strconv.FormatUint(uint64(m.Mode), 8)}
			if m.Size > 0 {
				opt = append(opt, "size="+strconv.FormatInt(int64(m.Size), 10))
			}
			s.Mounts = append(s.Mounts, ociMount{Destination: m.Dst, Type: "tmpfs", Source: "tmpfs", Options: opt})
		case mountProc:
			s.Mounts = append(s.Mounts, ociMount{Destination: m.Dst, Type: "proc", Source: "proc"})
		case mountDev:
			s.Mounts = append(s.Mounts, ociMount{Destination: m.Dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}})
		}
	}
	l := pl.Limits
	add := func(typ string, v uint64) {
		s.Process.Rlimits = append(s.Process.Rlimits, ociRlimit{Type: typ, Hard: v, Soft: v})
	}
	if l.OpenFiles > 0 {
		add("RLIMIT_NOFILE", uint64(l.OpenFiles))
	}
	if l.FileSize > 0 {
		add("RLIMIT_FSIZE", uint64(l.FileSize))
	}
	if l.CPUTime > 0 {
		add("RLIMIT_CPU", uint64((int64(l.CPUTime)+999_999_999)/1e9))
	}
	if l.Memory > 0 || l.Processes > 0 {
		s.Linux.Resources = &ociResources{}
		if l.Memory > 0 {
			s.Linux.Resources.Memory = &struct {
				Limit int64 `json:"limit"`
			}{int64(l.Memory)}
		}
		if l.Processes > 0 {
			s.Linux.Resources.Pids = &struct {
				Limit int64 `json:"limit"`
			}{int64(l.Processes)}
		}
	}
	return s
}

// buildGVisor writes an OCI bundle and runs it with runsc. Generated
// files (/etc/passwd, /etc/hosts) are written into the bundle's rootfs.
func (s *Sandboxer) buildGVisor(sb *Sandboxed, pl *plan, stateDir string, f Features) error {
	bundle := filepath.Join(stateDir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	for _, m := range pl.Mounts {
		if m.Kind != mountFile {
			continue
		}
		dst := filepath.Join(rootfs, m.Dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, []byte(m.Data), 0o644); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(gvisorSpec(pl), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return err
	}
	network := "none"
	if pl.Network == NetworkHost {
		network = "host"
	}
	id := filepath.Base(stateDir)
	args := []string{f.RunscPath, "--root", filepath.Join(stateDir, "runsc-state"), "--network", network, "--ignore-cgroups"}
	if os.Geteuid() != 0 {
		args = append(args, "--rootless")
	}
	args = append(args, "run", "--bundle", bundle, id)
	sb.Cmd = &exec.Cmd{
		Path:        f.RunscPath,
		Args:        args,
		Env:         []string{},
		Dir:         "/",
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	return nil
}
