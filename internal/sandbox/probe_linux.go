//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// probe detects what this machine offers. The native and bubblewrap
// backends are tried for real: an init is started with a probe plan that
// builds the whole sandbox and exits, so "available" means it works, and
// "not available" carries the error it hit.
func probe(ctx context.Context, initPath func() (string, error), initArgs []string) Features {
	f := Features{OS: runtime.GOOS, Root: os.Geteuid() == 0}
	f.UserNS = userNSFeature()
	if seccompSupported() {
		f.Seccomp = Feature{Available: true}
	} else {
		f.Seccomp = Feature{Detail: "the kernel lacks seccomp filters (CONFIG_SECCOMP_FILTER)"}
	}
	abi, err := landlockABI()
	f.LandlockABI = abi
	switch {
	case abi >= 1:
		f.Landlock = Feature{Available: true, Detail: "ABI " + strconv.Itoa(abi)}
	case errors.Is(err, unix.EOPNOTSUPP):
		f.Landlock = Feature{Detail: "Landlock is built in but not enabled: add landlock to the lsm= kernel parameter"}
	default:
		f.Landlock = Feature{Detail: fmt.Sprintf("the kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, Linux 5.13+): %v", err)}
	}
	if abi >= 4 {
		f.LandlockTCP = Feature{Available: true, Detail: "ABI " + strconv.Itoa(abi)}
	} else {
		f.LandlockTCP = Feature{Detail: "needs Landlock ABI 4 (Linux 6.7+)"}
	}
	f.CgroupV2 = cgroupV2Feature()
	if kernelAtLeast(6, 14) {
		f.PidMaxNS = Feature{Available: true, Detail: "Linux 6.14+"}
	} else {
		f.PidMaxNS = Feature{Detail: "needs Linux 6.14+"}
	}

	ip, err := initPath()
	if err != nil {
		f.Native = Feature{Detail: err.Error()}
		f.Bubblewrap = Feature{Detail: err.Error()}
	} else {
		f.Native = trialFeature(ctx, BackendNative, &f, ip, initArgs)
		if !f.Native.Available && f.PidMaxNS.Available && strings.Contains(f.Native.Detail, "pid_max") {
			f.PidMaxNS = Feature{Detail: "the kernel refused a per-namespace pid_max: " + f.Native.Detail}
			f.Native = trialFeature(ctx, BackendNative, &f, ip, initArgs)
		}
		if bw, err := exec.LookPath("bwrap"); err != nil {
			f.Bubblewrap = Feature{Detail: "bwrap is not installed (apt-get install bubblewrap, or dnf install bubblewrap)"}
		} else {
			f.BwrapPath = bw
			f.Bubblewrap = trialFeature(ctx, BackendBubblewrap, &f, ip, initArgs)
		}
	}
	f.GVisor = gvisorFeature(ctx, &f)
	return f
}

func trialFeature(ctx context.Context, b Backend, f *Features, initPath string, initArgs []string) Feature {
	start := time.Now()
	if err := trial(ctx, b, *f, initPath, initArgs); err != nil {
		detail := err.Error()
		if b == BackendNative && !f.UserNS.Available {
			detail += " (" + f.UserNS.Detail + ")"
		}
		return Feature{Detail: detail}
	}
	detail := fmt.Sprintf("trial sandbox built in %s", time.Since(start).Round(100*time.Microsecond))
	if b == BackendBubblewrap {
		detail = f.BwrapPath + ", " + detail
	}
	return Feature{Available: true, Detail: detail}
}

// trial builds a complete sandbox with the strict profile and a probe
// plan: the init sets everything up, then exits 0 instead of starting a
// server.
func trial(ctx context.Context, b Backend, f Features, initPath string, initArgs []string) error {
	stateDir, err := os.MkdirTemp("", "mcpwarden-sandbox-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	p := DefaultProfile()
	p.Backend = b
	pl, err := buildPlan(p, Spec{}, initPath, "", stateDir, f)
	if err != nil {
		return err
	}
	pl.Probe = true
	var cmd *exec.Cmd
	if b == BackendNative {
		cmd = nativeCmd(pl, initPath, initArgs)
	} else if cmd, err = bwrapCmd(pl, f.BwrapPath, initPath, initArgs, stateDir); err != nil {
		return err
	}
	planFile, err := planFD(pl)
	if err != nil {
		return err
	}
	defer planFile.Close()
	parent, child, err := socketpair()
	if err != nil {
		return err
	}
	defer parent.Close()
	defer child.Close()
	var stderr bytes.Buffer
	cmd.ExtraFiles = []*os.File{planFile, child}
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cmd.Start(); err != nil {
		if b == BackendNative {
			return fmt.Errorf("cannot create the sandbox namespaces: %w", err)
		}
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("trial sandbox did not finish: %w", ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, "mcpwarden sandbox: setup failed, the server was not started: ")
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

func userNSFeature() Feature {
	read := func(p string) (int, bool) {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		return n, err == nil
	}
	if n, ok := read("/proc/sys/user/max_user_namespaces"); ok && n == 0 {
		return Feature{Detail: "user namespaces are disabled (sysctl user.max_user_namespaces=0)"}
	}
	if os.Geteuid() != 0 {
		if n, ok := read("/proc/sys/kernel/unprivileged_userns_clone"); ok && n == 0 {
			return Feature{Detail: "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)"}
		}
		if n, ok := read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && n == 1 {
			return Feature{Detail: "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1); allow them for mcpwarden with an AppArmor profile, or use bubblewrap"}
		}
	}
	return Feature{Available: true}
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	digits := func(s string) string {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[:i]
	}
	ma, err1 := strconv.Atoi(digits(parts[0]))
	mi, err2 := strconv.Atoi(digits(parts[1]))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
