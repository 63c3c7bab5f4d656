package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/netclass"
)

// HTTPOptions configures [Gateway.Handler].
type HTTPOptions struct {
	// Path is the MCP endpoint path; "" means the configured one.
	Path string
	// Loopback tells the handler the listener is on a loopback address,
	// which allows loopback browser origins (local inspectors and IDEs).
	Loopback bool
	// Wrap, if set, wraps the MCP endpoints (not /healthz), for example
	// with caller authentication.
	Wrap func(http.Handler) http.Handler
}

// Handler serves the gateway over HTTP: Streamable HTTP at the MCP path
// for every revision, legacy HTTP+SSE at PATH/sse (with messages posted to
// PATH/message), and /healthz.
func (g *Gateway) Handler(opts HTTPOptions) http.Handler {
	path := opts.Path
	if path == "" {
		path = g.cfg.Gateway.Path
	}
	limit := g.cfg.Gateway.MaxMessageBytes
	getServer := func(*http.Request) *mcp.Server { return g.srv }
	logger := g.log.With("side", "downstream-http")
	stateful := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{Logger: logger, MaxRequestBodyBytes: limit})
	stateless := mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{Logger: logger, MaxRequestBodyBytes: limit, Stateless: true, PropagateRequestCancellation: true})
	sse := mcp.NewSSEHandler(getServer, &mcp.SSEOptions{MaxRequestBodyBytes: limit})

	mcpH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if !g.checkBody(w, r, limit) {
				return
			}
		}
		// Revision 2026-07-28 is stateless and announces itself in the
		// MCP-Protocol-Version header on every request; older revisions
		// send it only after initialize and carry a session ID.
		if v := r.Header.Get("MCP-Protocol-Version"); v >= "2026-07-28" && r.Header.Get("Mcp-Session-Id") == "" {
			stateless.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == "" && !startsSession(r) {
			writeRPCError(w, http.StatusBadRequest, codeInvalidRequest, "no session: send initialize first (or use revision 2026-07-28, which needs none)")
			return
		}
		stateful.ServeHTTP(w, r)
	})
	sseH := http.Handler(sse)
	wrap := func(h http.Handler) http.Handler {
		h = g.originCheck(opts.Loopback, h)
		if opts.Wrap != nil {
			h = opts.Wrap(h)
		}
		return h
	}

	mux := http.NewServeMux()
	mux.Handle(path, wrap(mcpH))
	mux.Handle(strings.TrimSuffix(path, "/")+"/sse", wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !g.checkBody(w, r, limit) {
			return
		}
		sseH.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/healthz", g.healthz)
	return mux
}

// checkBody enforces the message size limit and rejects bodies that are
// not UTF-8 JSON with the JSON-RPC parse error, before the SDK sees them.
// It leaves the body readable for the next handler.
func (g *Gateway) checkBody(w http.ResponseWriter, r *http.Request, limit int64) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	r.Body.Close()
	if err != nil {
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return false
	}
	switch {
	case int64(len(body)) > limit:
		writeRPCError(w, http.StatusRequestEntityTooLarge, codeMessageTooLarge, fmt.Sprintf("the message exceeds mcpwarden's limit of %d bytes", limit))
		return false
	case !utf8.Valid(body):
		writeRPCError(w, http.StatusBadRequest, codeParseError, "parse error: the message is not valid UTF-8")
		return false
	case !json.Valid(body):
		writeRPCError(w, http.StatusBadRequest, codeParseError, "parse error: the message is not valid JSON")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// startsSession reports whether a session-less POST may open a session:
// initialize, or the methods the go-sdk answers without one.
func startsSession(r *http.Request) bool {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var m struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(body, &m) != nil {
		return true // a batch or something odd: the go-sdk answers it
	}
	switch m.Method {
	case "initialize", "ping", "server/discover":
		return true
	}
	return false
}

// originCheck rejects browser requests from origins that may not drive
// the gateway, which is what stops DNS-rebinding attacks: a page on
// attacker.example that resolves to 127.0.0.1 still sends its own Origin.
// The spec asks for 403.
func (g *Gateway) originCheck(loopback bool, next http.Handler) http.Handler {
	allowed := g.cfg.Gateway.AllowedOrigins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !originAllowed(origin, allowed, loopback) {
			g.log.Warn("refused request from a foreign origin", "origin", origin, "remote", r.RemoteAddr)
			writeRPCError(w, http.StatusForbidden, codeForbidden, fmt.Sprintf("origin %q is not allowed to use this MCP endpoint; add it to gateway.allowed_origins if it should be", origin))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originAllowed(origin string, allowed []string, loopback bool) bool {
	if slices.Contains(allowed, strings.TrimSuffix(origin, "/")) {
		return true
	}
	if !loopback {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return netclass.ClassifyHost(u.Hostname()) == netclass.Loopback
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	st := g.Statuses()
	status, code := "ok", http.StatusOK
	for _, s := range st {
		if !s.Up {
			status = "degraded"
		}
	}
	if g.draining.Load() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "servers": st})
}

// JSON-RPC error codes for transport-level refusals.
const (
	codeParseError      = -32700
	codeInvalidRequest  = -32600
	codeMessageTooLarge = -32600
	codeForbidden       = -32600
)

func writeRPCError(w http.ResponseWriter, status int, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rpcError(nil, code, msg))
}

func rpcError(id json.RawMessage, code int, msg string) map[string]any {
	var rid any = nil
	if len(id) > 0 {
		rid = id
	}
	return map[string]any{"jsonrpc": "2.0", "id": rid, "error": map[string]any{"code": code, "message": msg}}
}

// IsLoopbackListen reports whether a listen address is on loopback only.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return netclass.ClassifyHost(host) == netclass.Loopback
}
