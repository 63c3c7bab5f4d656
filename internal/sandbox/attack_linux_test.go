//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// attackEnv names the attack the test binary performs when it runs
// inside a sandbox as the "server".
const attackEnv = "MCPWARDEN_TEST_ATTACK"

// batchSep separates an attack's name and arguments in a batch.
const batchSep = "\x1f"

// attack runs one escape attempt (or the legitimate action it is paired
// with) and reports on stdout. Exit status 0 means the action succeeded,
// 1 that it failed; the tests decide which outcome is the right one.
func attack(name string, args []string) int {
	ok := func(format string, a ...any) int { fmt.Printf("OK "+format+"\n", a...); return 0 }
	fail := func(err error) int { fmt.Printf("FAIL %v\n", err); return 1 }
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "batch":
		// Several attempts in one sandbox, to keep the suite fast: each
		// argument is an attack name and its arguments separated by
		// batchSep.
		for i, a := range args {
			parts := strings.Split(a, batchSep)
			fmt.Printf("=== CASE %d\n", i)
			code := attack(parts[0], parts[1:])
			fmt.Printf("=== STATUS %d\n", code)
		}
		return 0
	case "read":
		b, err := os.ReadFile(arg(0))
		if err != nil {
			return fail(err)
		}
		return ok("%s", b)
	case "write":
		if err := os.WriteFile(arg(0), []byte("written from the sandbox"), 0o644); err != nil {
			return fail(err)
		}
		return ok("wrote %s", arg(0))
	case "env":
		// The variable itself, and anything else this process can read
		// that holds an environment.
		found := []string{}
		if v, set := os.LookupEnv(arg(0)); set {
			found = append(found, "environ:"+v)
		}
		for _, p := range []string{"/proc/1/environ", "/proc/self/environ", "/proc/" + strconv.Itoa(os.Getppid()) + "/environ"} {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), arg(0)+"=") {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			return ok("%s found in %v", arg(0), found)
		}
		return fail(fmt.Errorf("%s not found", arg(0)))
	case "dial":
		c, err := net.DialTimeout("tcp", arg(0), 2*time.Second)
		if err != nil {
			return fail(err)
		}
		c.Close()
		return ok("connected to %s", arg(0))
	case "dial-self":
		// A listener of our own inside the sandbox's namespace: only
		// Landlock stands between us and it.
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		defer l.Close()
		c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
		if err != nil {
			return fail(err)
		}
		c.Close()
		return ok("connected to own listener %s", l.Addr())
	case "proxy-connect":
		return proxyConnect(arg(0), ok, fail)
	case "proxy-get":
		proxy, err := url.Parse(os.Getenv("HTTP_PROXY"))
		if err != nil || proxy.Host == "" {
			return fail(fmt.Errorf("no HTTP_PROXY in the environment"))
		}
		client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}, Timeout: 5 * time.Second}
		resp, err := client.Get(arg(0))
		if err != nil {
			return fail(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fail(fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body))))
		}
		return ok("%s", body)
	case "spawn":
		n, _ := strconv.Atoi(arg(0))
		var cmds []*exec.Cmd
		defer func() {
			for _, c := range cmds {
				c.Process.Kill()
				c.Wait()
			}
		}()
		for i := 0; i < n; i++ {
			c := exec.Command("/bin/sleep", "30")
			if err := c.Start(); err != nil {
				fmt.Printf("spawned %d\n", i)
				return fail(err)
			}
			cmds = append(cmds, c)
		}
		return ok("spawned %d", n)
	case "memhog":
		mb, _ := strconv.Atoi(arg(0))
		var hold [][]byte
		for i := 1; i <= mb; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			hold = append(hold, b)
			if i%32 == 0 {
				fmt.Printf("allocated %d MiB\n", i)
			}
		}
		return ok("allocated %d MiB (%d chunks)", mb, len(hold))
	case "ptrace":
		child := exec.Command("/bin/sleep", "30")
		if err := child.Start(); err != nil {
			return fail(err)
		}
		defer func() { child.Process.Kill(); child.Wait() }()
		// Signalling one's own child is the legitimate path.
		if err := child.Process.Signal(syscall.Signal(0)); err != nil {
			return fail(fmt.Errorf("signalling own child: %w", err))
		}
		fmt.Println("signal to child ok")
		var errs []error
		for _, pid := range []int{child.Process.Pid, 1} {
			if err := unix.PtraceAttach(pid); err == nil {
				return ok("attached to pid %d", pid)
			} else {
				errs = append(errs, fmt.Errorf("ptrace(ATTACH, %d): %w", pid, err))
			}
		}
		return fail(errors.Join(errs...))
	case "mount":
		var errs []error
		if err := unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""); err == nil {
			return ok("mounted tmpfs on /tmp")
		} else {
			errs = append(errs, fmt.Errorf("mount: %w", err))
		}
		if err := unix.Unshare(unix.CLONE_NEWUSER | unix.CLONE_NEWNS); err == nil {
			return ok("unshared a user namespace")
		} else {
			errs = append(errs, fmt.Errorf("unshare: %w", err))
		}
		if err := os.WriteFile("/tmp/legit", []byte("x"), 0o600); err != nil {
			errs = append(errs, fmt.Errorf("legitimate write to /tmp failed: %w", err))
		} else {
			fmt.Println("write to /tmp ok")
		}
		return fail(errors.Join(errs...))
	case "daemon":
		// Leave a process behind and exit: the init must kill it.
		c := exec.Command("/bin/sh", "-c", "sleep 300 # "+arg(0))
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return fail(err)
		}
		return ok("left pid %d behind", c.Process.Pid)
	case "proc-write":
		if err := os.WriteFile("/proc/self/comm", []byte("renamed"), 0); err != nil {
			return fail(err)
		}
		return ok("wrote /proc/self/comm")
	case "stdio":
		// Echo stdin to stdout: stdio must pass through untouched.
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			return fail(err)
		}
		return ok("echo %s", strings.TrimSpace(line))
	}
	fmt.Printf("unknown attack %q\n", name)
	return 2
}

func proxyConnect(target string, ok func(string, ...any) int, fail func(error) int) int {
	proxy, err := url.Parse(os.Getenv("HTTPS_PROXY"))
	if err != nil || proxy.Host == "" {
		return fail(fmt.Errorf("no HTTPS_PROXY in the environment"))
	}
	c, err := net.DialTimeout("tcp", proxy.Host, 2*time.Second)
	if err != nil {
		return fail(fmt.Errorf("dialling the proxy: %w", err))
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != 200 {
		return fail(fmt.Errorf("proxy said %d: %s", resp.StatusCode, resp.Header.Get("X-Mcpwarden-Denied")))
	}
	fmt.Fprintf(c, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil {
		return fail(err)
	}
	return ok("tunnel: %s", strings.TrimSpace(line))
}
