//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"mcpwarden/internal/egress"
)

// build fills sb.Cmd for the selected backend.
func (s *Sandboxer) build(ctx context.Context, sb *Sandboxed, spec Spec) error {
	prof := sb.Profile
	exe, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return err
	}
	if sb.Backend == BackendNone {
		cmd := exec.Command(exe, spec.Args...)
		cmd.Env = serverEnv(spec, prof, "")
		cmd.Dir = spec.Dir
		sb.Cmd = cmd
		return nil
	}
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", exe, err)
	}
	stateDir, err := os.MkdirTemp(s.opts.StateDir, "mcpwarden-sandbox-")
	if err != nil {
		return fmt.Errorf("creating the sandbox state directory: %w", err)
	}
	sb.onClose(func() error { return os.RemoveAll(stateDir) })
	f := s.Features(ctx)
	pl, err := buildPlan(prof, spec, real, s.cacheRoot(spec.Name), stateDir, f)
	if err != nil {
		return err
	}
	proxyURL := ""
	if prof.Network == NetworkEgress {
		proxyURL = "http://127.0.0.1:" + strconv.Itoa(proxyPort)
		allow, err := egress.ParseAllowlist(prof.Egress.Allow, prof.Egress.Internal)
		if err != nil {
			return err
		}
		sb.proxy = egress.New(egress.Options{
			Server: spec.Name, Allow: allow, Resolver: s.opts.Resolver, Dialer: s.opts.Dialer,
			OnEvent: s.opts.OnEgress, Logger: s.opts.Logger,
		})
		sb.onClose(sb.proxy.Close)
	}
	pl.Env = serverEnv(spec, prof, proxyURL)

	if sb.Backend == BackendGVisor {
		return s.buildGVisor(sb, pl, stateDir, f)
	}
	initPath, err := s.initPath()
	if err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch sb.Backend {
	case BackendNative:
		cmd = nativeCmd(pl, initPath, s.initArgs())
	case BackendBubblewrap:
		if cmd, err = bwrapCmd(pl, f.BwrapPath, initPath, s.initArgs(), stateDir); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown backend %q", sb.Backend)
	}
	if f.CgroupV2.Available {
		cg, err := newCgroup(f.CgroupV2.Detail, spec.Name, prof.Limits)
		if err != nil {
			return fmt.Errorf("setting up the cgroup: %w", err)
		}
		sb.onClose(cg.remove)
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cg.fd
		// memory.max bounds the whole sandbox; RLIMIT_DATA would also
		// break runtimes that reserve large writable regions.
		pl.Limits.Memory = 0
	}
	planFile, err := planFD(pl)
	if err != nil {
		return err
	}
	sb.onClose(planFile.Close)
	ctlParent, ctlChild, err := socketpair()
	if err != nil {
		return err
	}
	sb.onClose(ctlChild.Close)
	ctl, err := net.FileConn(ctlParent)
	ctlParent.Close()
	if err != nil {
		return fmt.Errorf("sandbox control channel: %w", err)
	}
	sb.onClose(ctl.Close)
	cmd.ExtraFiles = []*os.File{planFile, ctlChild}
	go s.control(ctl.(*net.UnixConn), sb.proxy, spec.Name)
	sb.Cmd = cmd
	return nil
}

func (s *Sandboxer) cacheRoot(server string) string {
	root := s.opts.CacheDir
	if root == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		root = filepath.Join(dir, "mcpwarden", "servers")
	}
	name := server
	if name == "" || !filepath.IsLocal(name) || name != filepath.Base(name) {
		name = "_unnamed"
	}
	return filepath.Join(root, name)
}

func nativeCmd(pl *plan, initPath string, initArgs []string) *exec.Cmd {
	pl.SetupRoot = true
	pl.DropCaps = true
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP)
	if pl.Network != NetworkHost {
		flags |= unix.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		Path: initPath,
		Args: append([]string{initPath}, initArgs...),
		Env:  []string{}, // not nil: nil would pass the gateway's environment to the init
		Dir:  "/",
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			// One mapping: the init and the server keep the gateway's
			// uid outside (so they can open what the profile grants) and
			// are uid 0 inside, where the init drops every capability
			// before the server starts.
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			GidMappingsEnableSetgroups: false,
			Pdeathsig:                  syscall.SIGKILL,
		},
	}
	return cmd
}

// planName names the memory file holding the plan; the init checks it.
const planName = "mcpwarden-sandbox-plan"

// planFD writes the plan to a sealed memory file the init inherits.
func planFD(pl *plan) (*os.File, error) {
	data, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(planName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sandbox-plan")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the sandbox plan: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing the sandbox plan: %w", err)
	}
	return f, nil
}

func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sandbox-ctl"), os.NewFile(uintptr(fds[1]), "sandbox-ctl-init"), nil
}

// ctlMsg is a message from the init to the parent.
type ctlMsg struct {
	Type  string `json:"type"` // "listener" (with an fd), "started", "error"
	Error string `json:"error,omitempty"`
}

// control reads the init's messages: the egress listener it opened
// inside the network namespace, and whether setup succeeded.
func (s *Sandboxer) control(uc *net.UnixConn, proxy *egress.Proxy, server string) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		var m ctlMsg
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			s.log.Error("sandbox control: bad message", "server", server, "error", err)
			return
		}
		switch m.Type {
		case "listener":
			l, err := listenerFromOOB(oob[:oobn])
			if err != nil {
				s.log.Error("sandbox control: egress listener", "server", server, "error", err)
				continue
			}
			if proxy == nil {
				l.Close()
				continue
			}
			go proxy.Serve(l)
		case "started":
			s.log.Debug("sandbox started", "server", server)
			return
		case "error":
			s.log.Error("sandbox setup failed; the server did not start", "server", server, "error", m.Error)
			return
		}
	}
}

func listenerFromOOB(oob []byte) (net.Listener, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no descriptor in listener message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no descriptor in listener message")
	}
	f := os.NewFile(uintptr(fds[0]), "egress-listener")
	defer f.Close()
	return net.FileListener(f)
}
