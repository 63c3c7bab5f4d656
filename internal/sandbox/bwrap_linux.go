//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// bwrapCmd runs the init under bubblewrap: bwrap creates the namespaces
// and the root from the plan's mounts and drops every capability; the
// init then applies limits, Landlock and seccomp, opens the egress
// listener and supervises the server as it does for the native backend.
func bwrapCmd(pl *plan, bwrap, initPath string, initArgs []string, stateDir string) (*exec.Cmd, error) {
	pl.SetupRoot = false
	pl.DropCaps = false
	args := []string{
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", pl.Hostname,
	}
	if pl.Network != NetworkHost {
		args = append(args, "--unshare-net")
	}
	files := filepath.Join(stateDir, "files")
	if err := os.MkdirAll(files, 0o700); err != nil {
		return nil, err
	}
	for i, m := range pl.Mounts {
		switch m.Kind {
		case mountBind:
			if m.Optional {
				fi, err := os.Lstat(m.Src)
				if err != nil {
					continue
				}
				if fi.Mode()&os.ModeSymlink != 0 {
					target, err := os.Readlink(m.Src)
					if err != nil {
						return nil, err
					}
					args = append(args, "--symlink", target, m.Dst)
					continue
				}
			}
			flag := "--ro-bind"
			if m.RW {
				flag = "--bind"
			}
			args = append(args, flag, m.Src, m.Dst)
		case mountTmpfs:
			args = append(args, "--perms", strconv.FormatUint(uint64(m.Mode), 8))
			if m.Size > 0 {
				args = append(args, "--size", strconv.FormatInt(int64(m.Size), 10))
			}
			args = append(args, "--tmpfs", m.Dst)
		case mountFile:
			src := filepath.Join(files, strconv.Itoa(i))
			if err := os.WriteFile(src, []byte(m.Data), 0o644); err != nil {
				return nil, err
			}
			args = append(args, "--ro-bind", src, m.Dst)
		case mountProc:
			args = append(args, "--proc", m.Dst)
		case mountDev:
			args = append(args, "--dev", m.Dst, "--perms", "1777", "--size", strconv.Itoa(64<<20), "--tmpfs", "/dev/shm")
		default:
			return nil, fmt.Errorf("unknown mount kind %q", m.Kind)
		}
	}
	if !visible(pl.Mounts, initPath, true) {
		args = append(args, "--ro-bind", initPath, initPath)
	}
	args = append(args, "--remount-ro", "/", "--chdir", "/", "--")
	args = append(args, initPath)
	args = append(args, initArgs...)
	cmd := &exec.Cmd{
		Path: bwrap,
		Args: append([]string{bwrap}, args...),
		Env:  []string{},
		Dir:  "/",
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
		},
	}
	return cmd, nil
}
