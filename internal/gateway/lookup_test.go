package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"mcpwarden/internal/config"
	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

// catalogProbe records what the gateway's Catalog says during calls, and
// sets a per-call timeout on the slow tool.
type catalogProbe struct {
	mu       sync.Mutex
	tool     json.RawMessage
	resolved [3]string
	owner    string
	missing  bool
}

func (p *catalogProbe) Name() string { return "probe" }
func (p *catalogProbe) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Catalog == nil {
		return pipeline.DenyVerdict("probe.no_catalog", "the gateway set no catalog"), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Method == "tools/call" && c.Name == "echo" {
		p.tool, _ = c.Catalog.Tool(c.Server, c.Name)
		_, found := c.Catalog.Tool(c.Server, "no_such_tool")
		_, other := c.Catalog.Tool("no_such_server", c.Name)
		p.missing = !found && !other
		s, n, ok := c.Catalog.Resolve("std__greet")
		p.resolved = [3]string{s, n, map[bool]string{true: "ok"}[ok]}
		p.owner = c.Catalog.Owner("test://std/items/7")
	}
	if c.Method == "tools/call" && c.Name == "slow" {
		c.Timeout = 150 * time.Millisecond
	}
	return pipeline.Allow, nil
}

func TestCatalogAndTimeoutHooks(t *testing.T) {
	probe := &catalogProbe{}
	s := stdioServer("std")
	s.CallTimeout = config.Duration(30 * time.Second)
	g := startGateway(t, pipeline.NewChain(probe), s)
	cs := connectMemory(t, g, newAgent(), "2025-11-25")

	if got := mcptest.Text(call(t, cs, "std__echo", map[string]any{"text": "hi"})); got != "hi" {
		t.Fatalf("echo = %q", got)
	}
	probe.mu.Lock()
	var def struct {
		Name        string         `json:"name"`
		InputSchema map[string]any `json:"inputSchema"`
	}
	if err := json.Unmarshal(probe.tool, &def); err != nil || def.Name != "echo" || def.InputSchema["type"] != "object" {
		t.Errorf("Catalog.Tool(std, echo) = %s (%v), want the upstream definition under its own name", probe.tool, err)
	}
	if !probe.missing {
		t.Errorf("Catalog.Tool found a tool that does not exist")
	}
	if probe.resolved != [3]string{"std", "greet", "ok"} {
		t.Errorf("Catalog.Resolve(std__greet) = %v, want std greet ok", probe.resolved)
	}
	if probe.owner != "std" {
		t.Errorf("Catalog.Owner(template URI) = %q, want std", probe.owner)
	}
	probe.mu.Unlock()

	res := call(t, cs, "std__slow", map[string]any{"ms": 5000})
	if !res.IsError || !strings.Contains(mcptest.Text(res), "did not answer within 150ms") {
		t.Errorf("slow call with a per-call timeout = %q, want a timeout after 150ms", mcptest.Text(res))
	}
}
