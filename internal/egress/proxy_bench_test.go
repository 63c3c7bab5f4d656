package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
)

// BenchmarkConnect measures one connection and one echoed line, direct
// and through the proxy (CONNECT, allowlist match, fake resolution,
// classification, dial, tunnel). The difference is the proxy's added
// time per connection.
func BenchmarkConnect(b *testing.B) {
	up, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		b.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	defer up.Close()
	echo(up)
	_, uport, _ := net.SplitHostPort(up.Addr().String())

	roundTrip := func(b *testing.B, c net.Conn, br *bufio.Reader) {
		io.WriteString(c, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
			b.Fatalf("echo = %q, %v", line, err)
		}
	}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := net.Dial("tcp", up.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			roundTrip(b, c, bufio.NewReader(c))
			c.Close()
		}
	})
	b.Run("proxy", func(b *testing.B) {
		al, _ := ParseAllowlist([]string{"allowed.test:" + uport}, []string{"127.0.0.2/32"})
		p := New(Options{Server: "bench", Allow: al, Resolver: resolver(map[string]string{"allowed.test": "127.0.0.2"}), OwnAddrs: []netip.Addr{}})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go p.Serve(l)
		defer p.Close()
		b.ReportAllocs()
		for b.Loop() {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(c, "CONNECT allowed.test:%s HTTP/1.1\r\nHost: allowed.test\r\n\r\n", uport)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("CONNECT = %v, %v", resp, err)
			}
			roundTrip(b, c, br)
			c.Close()
		}
	})
}
