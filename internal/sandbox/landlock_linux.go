//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// landlockABI returns the kernel's Landlock ABI version, 0 when Landlock
// is missing or disabled.
func landlockABI() (int, error) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil {
		return 0, err
	}
	return v, nil
}

// applyLandlock restricts the calling thread to the plan's paths and,
// unless the network is the host's, to TCP connections to the egress
// proxy port only. The ruleset is built with go-landlock's best-effort
// downgrade to the kernel's ABI and applied to this thread alone.
func applyLandlock(pl *plan) error {
	if pl.Landlock == RequireOff {
		return nil
	}
	abi, err := landlockABI()
	if abi < 1 {
		if pl.Landlock == RequireOn {
			return fmt.Errorf("landlock: require, but Landlock is not available: %v", err)
		}
		return nil
	}
	// Listing directories anywhere is allowed: the mount namespace
	// already decides which exist. Reading and writing files is not.
	rules := []landlock.Rule{landlock.PathAccess(llsys.AccessFSReadDir, "/")}
	for _, p := range pl.LandlockRO {
		fi, err := os.Stat(p)
		if err != nil {
			continue // optional system paths may be absent
		}
		if fi.IsDir() {
			rules = append(rules, landlock.RODirs(p).WithIoctlDev())
		} else {
			rules = append(rules, landlock.ROFiles(p).WithIoctlDev())
		}
	}
	for _, p := range pl.LandlockRW {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			rules = append(rules, landlock.RWDirs(p).WithRefer().WithIoctlDev())
		} else {
			rules = append(rules, landlock.RWFiles(p).WithIoctlDev())
		}
	}
	cfg := landlock.Config{
		HandledAccessFS: landlock.V11.HandledAccessFS,
		Scoped:          landlock.V11.Scoped,
	}
	if pl.Network != NetworkHost {
		// Only connect is handled: binding inside a private namespace
		// reaches nobody.
		cfg.HandledAccessNet = llsys.AccessNetConnectTCP
		if pl.ProxyPort > 0 {
			rules = append(rules, landlock.ConnectTCP(uint16(pl.ProxyPort)))
		}
	}
	fd, flags, err := cfg.BestEffort().NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("landlock ruleset: %w", err)
	}
	if fd < 0 {
		if pl.Landlock == RequireOn {
			return errors.New("landlock: require, but the kernel's Landlock cannot enforce this profile")
		}
		return nil
	}
	defer unix.Close(fd)
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), uintptr(flags), 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}
