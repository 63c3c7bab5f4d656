package authcheck

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParam(t *testing.T) {
	tests := []struct{ header, want string }{
		{`Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource"`, "https://a.example/.well-known/oauth-protected-resource"},
		{`Bearer realm="x", resource_metadata=https://b.example/m, scope="a b"`, "https://b.example/m"},
		{`Bearer realm="has resource_metadata=no"`, ""},
		{`Bearer error="invalid_token", Resource_Metadata="q\"x"`, `q"x`},
		{``, ""},
	}
	for _, tt := range tests {
		if got := param(tt.header, "resource_metadata"); got != tt.want {
			t.Errorf("param(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestParseProcNet(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	ls, err := ParseProcNet([]byte(tcp))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].Addr.String() != "127.0.0.1" || ls[0].Port != 8080 || !ls[1].Addr.IsUnspecified() || ls[1].Port != 80 {
		t.Errorf("ParseProcNet = %+v, want 127.0.0.1:8080 and 0.0.0.0:80 listening (not the established one)", ls)
	}
	tcp6 := "hdr\n   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A 0\n"
	ls, err = ParseProcNet([]byte(tcp6))
	if err != nil || len(ls) != 1 || ls[0].Addr.String() != "::1" || ls[0].Port != 3000 {
		t.Errorf("ParseProcNet(tcp6) = %+v, %v; want [::1]:3000", ls, err)
	}
	if _, err := ParseProcNet([]byte("hdr\n 0: zz:0050 0 0A\n")); err == nil {
		t.Error("bad address accepted")
	}
}

// TestProcListenersSeesLoopback reads the real socket table: a loopback
// listener of this test is found, bound to 127.0.0.1, not to all
// interfaces.
func TestProcListenersSeesLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ls, err := ProcListeners()
	if err != nil {
		t.Skipf("SKIP: no socket table: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	for _, l := range ls {
		if l.Port == port {
			if !l.Addr.IsLoopback() {
				t.Errorf("listener on %d bound to %s, want loopback", port, l.Addr)
			}
			return
		}
	}
	t.Errorf("listener on port %d not in the socket table", port)
}

func TestCheck(t *testing.T) {
	var sessions, deletes atomic.Int32
	open := func(checkOrigin bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				deletes.Add(1)
				return
			}
			if checkOrigin && (r.Header.Get("Origin") != "" || !strings.HasPrefix(r.Host, "127.0.0.1")) {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			sessions.Add(1)
			w.Header().Set("Mcp-Session-Id", "s1")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
		})
	}
	badPRM := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-protected-resource") {
			json.NewEncoder(w).Encode(map[string]any{"resource": "https://elsewhere.example/mcp", "authorization_servers": []string{"http://auth.example"}})
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer badPRM.Close()
	tests := []struct {
		name      string
		h         http.Handler
		srv       *httptest.Server
		rules     []string
		needsAuth bool
	}{
		{name: "open, no origin check", h: open(false), rules: []string{Unauthenticated, ForeignOrigin, ForeignHost}},
		{name: "open, checks origin and host", h: open(true), rules: []string{Unauthenticated}},
		{name: "401 with wrong metadata", srv: badPRM, rules: []string{MissingChallenge, InvalidPRM}, needsAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv
			if srv == nil {
				srv = httptest.NewServer(tt.h)
				defer srv.Close()
			}
			before := sessions.Load()
			res := Check(context.Background(), "s", srv.URL+"/mcp", Options{Listeners: func() ([]Listener, error) { return nil, nil }})
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.RuleID)
			}
			if strings.Join(got, ",") != strings.Join(tt.rules, ",") || res.NeedsAuth != tt.needsAuth {
				t.Errorf("Check = %v (needs auth %v), want %v (%v)", got, res.NeedsAuth, tt.rules, tt.needsAuth)
			}
			if opened := sessions.Load() - before; opened > 0 && deletes.Load() < opened {
				t.Errorf("probes opened %d sessions and deleted %d", opened, deletes.Load())
			}
		})
	}
	// A loopback URL whose port is bound to every interface.
	res := Check(context.Background(), "s", "http://127.0.0.1:9/mcp", Options{Listeners: func() ([]Listener, error) {
		return []Listener{{Addr: net.IPv4zero, Port: 9}}, nil
	}})
	if len(res.Findings) != 1 || res.Findings[0].RuleID != BindAllInterfaces {
		t.Errorf("Check(bound to 0.0.0.0) = %v, want %s", res.Findings, BindAllInterfaces)
	}
}

func FuzzParseProcNet(f *testing.F) {
	f.Add([]byte("hdr\n   0: 0100007F:1F90 00000000:0000 0A 0\n"))
	f.Add([]byte("hdr\n 0: 00000000000000000000000001000000:0BB8 0 0A\n"))
	f.Add([]byte("hdr\n 0: :::0A\n 1: 1:1 0 0A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := ParseProcNet(data)
		if err != nil {
			return
		}
		for _, l := range ls {
			if len(l.Addr) != 4 && len(l.Addr) != 16 {
				t.Fatalf("address of length %d", len(l.Addr))
			}
		}
	})
}

func FuzzParam(f *testing.F) {
	f.Add(`Bearer resource_metadata="https://a/x"`)
	f.Add(`Bearer resource_metadata="\`)
	f.Add(`resource_metadata=`)
	f.Fuzz(func(t *testing.T, h string) {
		_ = param(h, "resource_metadata")
	})
}
