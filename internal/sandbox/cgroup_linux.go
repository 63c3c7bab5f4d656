//go:build linux

package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroupV2Feature finds a delegated cgroup v2 directory in which
// mcpwarden may create one child cgroup per server with the memory and
// pids controllers. Detail is that directory when available.
func cgroupV2Feature() Feature {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return Feature{Detail: fmt.Sprintf("%s: %v", cgroupRoot, err)}
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return Feature{Detail: "this machine mounts cgroup v1 (or a hybrid) at " + cgroupRoot + ", not the unified v2 hierarchy"}
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return Feature{Detail: err.Error()}
	}
	rel, err := unifiedPath(string(self))
	if err != nil {
		return Feature{Detail: err.Error()}
	}
	dir := filepath.Join(cgroupRoot, rel)
	return delegated(dir)
}

// unifiedPath returns the cgroup v2 path from /proc/self/cgroup.
func unifiedPath(procSelfCgroup string) (string, error) {
	for _, line := range strings.Split(procSelfCgroup, "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("odd cgroup path %q", p)
			}
			return p, nil
		}
	}
	return "", errors.New("this process is in no cgroup v2 hierarchy")
}

// delegated checks that dir can have children with memory and pids.
func delegated(dir string) Feature {
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return Feature{Detail: fmt.Sprintf("cgroup %s is not writable by mcpwarden (not delegated; with systemd use Delegate=yes)", dir)}
	}
	ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return Feature{Detail: err.Error()}
	}
	if missing := missingControllers(string(ctl)); len(missing) > 0 {
		// Try to enable them; this fails while processes live in dir
		// (the "no internal processes" rule), except at a namespace root.
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+strings.Join(missing, " +")), 0); err != nil {
			return Feature{Detail: fmt.Sprintf("cgroup %s does not delegate the %s controllers to children (%v)", dir, strings.Join(missing, " and "), err)}
		}
	}
	return Feature{Available: true, Detail: dir}
}

func missingControllers(subtreeControl string) []string {
	have := map[string]bool{}
	for _, c := range strings.Fields(subtreeControl) {
		have[c] = true
	}
	var missing []string
	for _, c := range []string{"memory", "pids"} {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	return missing
}

type cgroup struct {
	dir string
	fd  int
}

// newCgroup creates the cgroup of one server under parent with its
// limits; the init is placed in it at clone time (CLONE_INTO_CGROUP), so
// every process of the sandbox is inside from the start.
func newCgroup(parent, server string, l Limits) (*cgroup, error) {
	var b [4]byte
	rand.Read(b[:])
	name := "mcpwarden-" + sanitize(server) + "-" + hex.EncodeToString(b[:])
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	write := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0); err != nil {
			return fmt.Errorf("writing %s: %w", file, err)
		}
		return nil
	}
	var errs []error
	if l.Memory > 0 {
		errs = append(errs, write("memory.max", strconv.FormatInt(int64(l.Memory), 10)))
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			errs = append(errs, write("memory.swap.max", "0"))
		}
	}
	if l.Processes > 0 {
		errs = append(errs, write("pids.max", strconv.Itoa(l.Processes)))
	}
	if err := errors.Join(errs...); err != nil {
		os.Remove(dir)
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return nil, err
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

func (c *cgroup) remove() error {
	unix.Close(c.fd)
	// cgroup.kill (5.14+) ends stragglers; rmdir then succeeds once the
	// kernel has reaped them.
	os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	var err error
	for range 50 {
		if err = os.Remove(c.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", c.dir, err)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
		if b.Len() >= 32 {
			break
		}
	}
	if b.Len() == 0 {
		return "server"
	}
	return b.String()
}
