//go:build linux

package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildPlan(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "opt", "node")
	os.MkdirAll(filepath.Join(prefix, "bin"), 0o755)
	exe := filepath.Join(prefix, "bin", "node")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	link := filepath.Join(dir, "data-link")
	os.Symlink(data, link)

	p := DefaultProfile()
	p.Backend = BackendNative
	p.ReadOnly = []string{link}
	p.ReadWrite = []string{filepath.Join(dir, "data-link")}
	if _, err := buildPlan(p, Spec{}, exe, "", dir, Features{}); err == nil || !strings.Contains(err.Error(), "both read-only and read-write") {
		t.Errorf("buildPlan with a path both ro and rw: err = %v", err)
	}
	p.ReadWrite = nil
	p.Caches = []Cache{{Host: "npm", Path: ".npm"}}
	pl, err := buildPlan(p, Spec{Dir: data + "/sub"}, exe, filepath.Join(dir, "cache"), dir, Features{PidMaxNS: Feature{Available: true}})
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]mount{}
	for _, m := range pl.Mounts {
		mounts[m.Dst] = m
	}
	if m, ok := mounts[prefix]; !ok || m.RW {
		t.Errorf("the executable's prefix %s is not mounted read-only: %+v", prefix, m)
	}
	if m := mounts[link]; m.Src != data || m.RW {
		t.Errorf("symlinked read-only path mount = %+v, want source %s read-only", m, data)
	}
	if m := mounts[SandboxHome+"/.npm"]; !m.RW || m.Src != filepath.Join(dir, "cache", "npm") {
		t.Errorf("cache mount = %+v", m)
	}
	if _, ok := mounts["/etc/passwd"]; !ok {
		t.Errorf("no generated /etc/passwd")
	}
	if _, ok := mounts["/etc/shadow"]; ok {
		t.Errorf("/etc/shadow is mounted")
	}
	if pl.PidMax != minPidMax {
		t.Errorf("PidMax = %d, want %d for 256 processes", pl.PidMax, minPidMax)
	}
	if !slices.Contains(pl.LandlockRW, SandboxHome) || !slices.Contains(pl.LandlockRO, link) {
		t.Errorf("landlock paths ro=%v rw=%v", pl.LandlockRO, pl.LandlockRW)
	}
	for i := 1; i < len(pl.Mounts); i++ {
		if depth(pl.Mounts[i].Dst) < depth(pl.Mounts[i-1].Dst) {
			t.Errorf("mounts not ordered parents first: %s before %s", pl.Mounts[i-1].Dst, pl.Mounts[i].Dst)
		}
	}
	p.Caches = nil
	if _, err := buildPlan(p, Spec{Dir: "/srv/elsewhere"}, exe, "", dir, Features{}); err == nil || !strings.Contains(err.Error(), "not visible in the sandbox") {
		t.Errorf("buildPlan with an invisible cwd: err = %v", err)
	}
	p.ReadOnly = []string{filepath.Join(dir, "missing")}
	if _, err := buildPlan(p, Spec{}, exe, "", dir, Features{}); err == nil || !strings.Contains(err.Error(), "read_only path") {
		t.Errorf("buildPlan with a missing path: err = %v", err)
	}
}

func TestServerEnv(t *testing.T) {
	p := DefaultProfile()
	p.Backend = BackendNative
	p.Network = NetworkEgress
	p.Env = map[string]string{"FROM_PROFILE": "1", "HOME": "/root"}
	env := serverEnv(Spec{Env: []string{"PATH=/usr/bin", "HOME=/root", "HTTPS_PROXY=http://corp:8080", "NO_PROXY=.corp"}}, p, "http://127.0.0.1:3128")
	joined := strings.Join(env, "\n")
	for _, want := range []string{"HOME=" + SandboxHome, "HTTPS_PROXY=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128", "FROM_PROFILE=1", "PATH=/usr/bin", "TMPDIR=/tmp"} {
		if !slices.Contains(env, want) {
			t.Errorf("serverEnv lacks %s:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "corp") {
		t.Errorf("serverEnv keeps the gateway's proxy settings:\n%s", joined)
	}
}

func TestBwrapArgs(t *testing.T) {
	dir := t.TempDir()
	p := DefaultProfile()
	p.Backend = BackendBubblewrap
	p.ReadWrite = []string{dir}
	pl, err := buildPlan(p, Spec{}, "/bin/true", "", dir, Features{})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := bwrapCmd(pl, "/usr/bin/bwrap", "/opt/mcpwarden", []string{InitCommand}, dir)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(cmd.Args, " ")
	for _, want := range []string{"--unshare-user", "--unshare-net", "--die-with-parent", "--new-session", "--cap-drop ALL", "--bind " + dir + " " + dir, "--proc /proc", "--ro-bind /opt/mcpwarden /opt/mcpwarden", "-- /opt/mcpwarden __sandbox-init"} {
		if !strings.Contains(args, want) {
			t.Errorf("bwrap args lack %q:\n%s", want, args)
		}
	}
	if len(cmd.Env) != 0 || cmd.Env == nil {
		t.Errorf("bwrap environment = %v, want empty and non-nil", cmd.Env)
	}
}

func TestGVisorSpec(t *testing.T) {
	p := DefaultProfile()
	p.Backend = BackendGVisor
	p.Limits.CPUTime = Duration(90e9)
	pl, err := buildPlan(p, Spec{Args: []string{"--stdio"}}, "/usr/bin/node", "", t.TempDir(), Features{})
	if err != nil {
		t.Fatal(err)
	}
	pl.Env = []string{"HOME=" + SandboxHome}
	spec := gvisorSpec(pl)
	b, _ := json.Marshal(spec)
	js := string(b)
	for _, want := range []string{`"args":["/usr/bin/node","--stdio"]`, `"noNewPrivileges":true`, `"readonly":true`, `{"type":"network"}`, `"RLIMIT_CPU","hard":90`, `"pids":{"limit":256}`, `"destination":"/usr","type":"bind","source":"/usr","options":["rbind","nosuid","nodev","ro"]`} {
		if !strings.Contains(js, want) {
			t.Errorf("OCI spec lacks %s:\n%s", want, js)
		}
	}
}
