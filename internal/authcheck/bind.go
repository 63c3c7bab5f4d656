package authcheck

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"

	"mcpwarden/internal/finding"
	"mcpwarden/internal/netclass"
)

// bindCheck reports a local server that listens on every interface. It
// reads the socket table rather than connecting to the machine's other
// addresses, so it sends nothing over any network.
func (c *checker) bindCheck(class netclass.Class) {
	port, _ := strconv.Atoi(defaultPort(c.u))
	if class == netclass.Unspecified {
		c.add(BindAllInterfaces, finding.Transport, finding.High, 0.9, "Server is reached at an all-interfaces address",
			"The configured URL uses "+c.u.Hostname()+", which means the server listens on every interface: anyone on the network can reach it. Bind it to 127.0.0.1 and use that address.",
			finding.Evidence{Field: "url", Text: c.u.Redacted()})
		return
	}
	if class != netclass.Loopback {
		return
	}
	read := c.opts.Listeners
	if read == nil {
		if runtime.GOOS != "linux" {
			return
		}
		read = ProcListeners
	}
	ls, err := read()
	if err != nil {
		c.log.Debug("reading listening sockets", "err", err)
		return
	}
	for _, l := range ls {
		if l.Port == port && l.Addr.IsUnspecified() {
			c.add(BindAllInterfaces, finding.Transport, finding.High, 0.8, "Local server listens on every network interface",
				"The server is used as a local (loopback) server but its port is bound to "+l.Addr.String()+": anyone who can reach this machine over the network can call it, usually without authentication. Bind it to 127.0.0.1.",
				finding.Evidence{Field: "listen", Text: net.JoinHostPort(l.Addr.String(), strconv.Itoa(port)), Note: "a listening socket in the machine's socket table"})
			return
		}
	}
}

// ProcListeners reads the listening TCP sockets from /proc/net/tcp and
// /proc/net/tcp6.
func ProcListeners() ([]Listener, error) {
	var out []Listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		ls, err := ParseProcNet(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, ls...)
	}
	return out, nil
}

// ParseProcNet parses the text of /proc/net/tcp or tcp6 and returns the
// sockets in the LISTEN state (0A).
func ParseProcNet(data []byte) ([]Listener, error) {
	var out []Listener
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue // header
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" {
			continue
		}
		host, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			return nil, fmt.Errorf("bad local address %q", f[1])
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("bad port %q", portHex)
		}
		ip, err := procIP(host)
		if err != nil {
			return nil, err
		}
		out = append(out, Listener{Addr: ip, Port: int(port)})
	}
	return out, sc.Err()
}

// procIP decodes an address as the kernel prints it: the bytes of each
// 32-bit word in host (little-endian on the machines we run on) order.
func procIP(h string) (net.IP, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", h)
	}
	ip := make(net.IP, len(b))
	for w := 0; w < len(b); w += 4 {
		ip[w], ip[w+1], ip[w+2], ip[w+3] = b[w+3], b[w+2], b[w+1], b[w]
	}
	return ip, nil
}
