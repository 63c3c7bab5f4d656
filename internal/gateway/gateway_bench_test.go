package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/calllog"
	"mcpwarden/internal/config"
	"mcpwarden/internal/controls"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

// The tools/call benchmarks compare the same echo call made directly to a
// server and through the gateway, over stdio (the server is a subprocess)
// and over Streamable HTTP (loopback). Besides ns/op they report the p50
// and p99 of the per-call latency; the difference between the direct and
// gateway figures is what mcpwarden adds. See docs/benchmarks.md.
//
//	go test -run='^$' -bench=ToolCall -benchtime=5000x ./internal/gateway

var echoArgs = map[string]any{"text": "hello, benchmark"}

func benchCalls(b *testing.B, cs *mcp.ClientSession, name string) {
	b.Helper()
	ctx := context.Background()
	// Warm up connections and caches.
	for range 50 {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: echoArgs}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: echoArgs})
		lat = append(lat, time.Since(start))
		if err != nil || res.IsError {
			b.Fatalf("call: %v %v", res, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

func benchParallel(b *testing.B, cs *mcp.ClientSession, name string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: echoArgs}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

func benchClient() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
}

// stdioDirect starts the test server as a subprocess and connects to it,
// offering revision rev ("" for the newest).
func stdioDirect(b *testing.B, rev string) *mcp.ClientSession {
	path, env := mcptest.Command("bench")
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), mcptest.EnvServe+"="+env[mcptest.EnvServe])
	cs, err := benchClient().Connect(context.Background(), &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

func benchGateway(b *testing.B, chain *pipeline.Chain, servers ...config.Server) *Gateway {
	cfg := &config.Config{Version: 1, Servers: servers}
	cfg.ApplyDefaults()
	g, err := New(Options{Config: cfg, Chain: chain})
	if err != nil {
		b.Fatal(err)
	}
	g.Start(context.Background())
	b.Cleanup(func() { g.Close() })
	if err := g.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	return g
}

// stdioGateway serves the gateway over real pipes, in front of the test
// server as a stdio subprocess: what `mcpwarden wrap` does. rev pins the
// upstream revision; with a 2025-era server, plain calls take the fast
// path.
func stdioGateway(b *testing.B, chain *pipeline.Chain, rev string) *mcp.ClientSession {
	s := stdioServer("bench")
	s.ProtocolVersion = rev
	cfg := &config.Config{Version: 1, Servers: []config.Server{s}}
	cfg.ApplyDefaults()
	return stdioGatewayCfg(b, cfg, chain)
}

func stdioGatewayCfg(b *testing.B, cfg *config.Config, chain *pipeline.Chain) *mcp.ClientSession {
	g, err := New(Options{Config: cfg, Chain: chain})
	if err != nil {
		b.Fatal(err)
	}
	g.Start(context.Background())
	b.Cleanup(func() { g.Close() })
	if err := g.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	go func() { _ = g.ServeStdio(context.Background(), inR, outW); outW.Close() }()
	cs, err := benchClient().Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); inW.Close(); io.Copy(io.Discard, outR) })
	return cs
}

// benchHTTPClient keeps enough idle connections for the parallel
// benchmarks (the default keeps 2 per host, and the rest would be a new
// TCP connection per call), the same for the direct and the gateway case.
func benchHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

func httpDirect(b *testing.B) *mcp.ClientSession {
	ts := httptest.NewServer(mcptest.Handler("bench", false))
	b.Cleanup(ts.Close)
	cs, err := benchClient().Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL, MaxRetries: -1, HTTPClient: benchHTTPClient()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

func httpGateway(b *testing.B, chain *pipeline.Chain) *mcp.ClientSession {
	up := httptest.NewServer(mcptest.Handler("bench", false))
	b.Cleanup(up.Close)
	g := benchGateway(b, chain, config.Server{Name: "bench", URL: up.URL})
	ts := httptest.NewServer(g.Handler(HTTPOptions{Loopback: true}))
	b.Cleanup(ts.Close)
	cs, err := benchClient().Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", MaxRetries: -1, HTTPClient: benchHTTPClient()}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

func chains() map[string]*pipeline.Chain {
	return map[string]*pipeline.Chain{
		"nochain": nil,
		"calllog": pipeline.NewChain(calllog.New(calllog.Options{})),
	}
}

// The stdio cases use revision 2025-11-25 end to end (the fast path);
// stdio26 has the server negotiate 2026-07-28, which takes the ordinary
// path through both go-sdk sessions.
func BenchmarkToolCall(b *testing.B) {
	b.Run("stdio/direct", func(b *testing.B) { benchCalls(b, stdioDirect(b, "2025-11-25"), "echo") })
	b.Run("stdio26/direct", func(b *testing.B) { benchCalls(b, stdioDirect(b, ""), "echo") })
	b.Run("http/direct", func(b *testing.B) { benchCalls(b, httpDirect(b), "echo") })
	for name, ch := range chains() {
		b.Run("stdio/gateway-"+name, func(b *testing.B) { benchCalls(b, stdioGateway(b, ch, "2025-11-25"), "bench__echo") })
		b.Run("stdio26/gateway-"+name, func(b *testing.B) { benchCalls(b, stdioGateway(b, ch, ""), "bench__echo") })
		b.Run("http/gateway-"+name, func(b *testing.B) { benchCalls(b, httpGateway(b, ch), "bench__echo") })
	}
}

func BenchmarkThroughput(b *testing.B) {
	b.Run("stdio/direct", func(b *testing.B) { benchParallel(b, stdioDirect(b, "2025-11-25"), "echo") })
	b.Run("stdio26/direct", func(b *testing.B) { benchParallel(b, stdioDirect(b, ""), "echo") })
	b.Run("http/direct", func(b *testing.B) { benchParallel(b, httpDirect(b), "echo") })
	ch := chains()["calllog"]
	b.Run("stdio/gateway", func(b *testing.B) { benchParallel(b, stdioGateway(b, ch, "2025-11-25"), "bench__echo") })
	b.Run("stdio26/gateway", func(b *testing.B) { benchParallel(b, stdioGateway(b, ch, ""), "bench__echo") })
	b.Run("http/gateway", func(b *testing.B) { benchParallel(b, httpGateway(b, ch), "bench__echo") })
}

// BenchmarkHTTPBareProxy puts the standard library's reverse proxy, which
// only copies bytes, between the client and the server: the most any
// HTTP intermediary built on net/http can keep of the direct figures on
// this machine, for comparison with the gateway's http rows.
//
//	go test -run='^$' -bench='HTTPBareProxy|(ToolCall|Throughput)$/^http$' -benchtime=4000x -count=3 ./internal/gateway
func BenchmarkHTTPBareProxy(b *testing.B) {
	proxied := func(b *testing.B) *mcp.ClientSession {
		up := httptest.NewServer(mcptest.Handler("bench", false))
		b.Cleanup(up.Close)
		target, _ := url.Parse(up.URL)
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = benchHTTPClient().Transport
		ts := httptest.NewServer(rp)
		b.Cleanup(ts.Close)
		cs, err := benchClient().Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL, MaxRetries: -1, HTTPClient: benchHTTPClient()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cs.Close() })
		return cs
	}
	b.Run("latency", func(b *testing.B) { benchCalls(b, proxied(b), "echo") })
	b.Run("throughput", func(b *testing.B) { benchParallel(b, proxied(b), "echo") })
}

// BenchmarkToolCallEveryControl is the echo call over stdio (the fast
// path) with the default policy's whole chain: audit (SQLite, or JSONL),
// logging, access, limits, tool pinning, argument checks, toxic flows,
// DLP and output inspection. Compare with ToolCall/stdio/direct.
//
//	go test -run='^$' -bench=EveryControl -benchtime=4000x ./internal/gateway
func BenchmarkToolCallEveryControl(b *testing.B) {
	for _, sink := range []string{"sqlite", "jsonl"} {
		b.Run("stdio/audit="+sink, func(b *testing.B) {
			dir := b.TempDir()
			s := stdioServer("bench")
			s.ProtocolVersion = "2025-11-25"
			audit := "sinks: {sqlite: " + dir + "/audit.db}"
			if sink == "jsonl" {
				audit = "sinks: {sqlite: off, jsonl: " + dir + "/audit.jsonl}"
			}
			cfg, err := config.Parse("bench.yaml", []byte("version: 1\npolicy:\n  audit: {"+audit+"}\n  log: {messages: false}\n  pinning: {lockfile: "+dir+"/mcpwarden.lock}\n"))
			if err != nil {
				b.Fatal(err)
			}
			cfg.Servers = []config.Server{s}
			cfg.ApplyDefaults()
			set, err := controls.Build(context.Background(), cfg, controls.Deps{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { set.Close() })
			benchCalls(b, stdioGatewayCfg(b, cfg, set.Chain), "bench__echo")
		})
	}
}
