package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/mcptest"
	"mcpwarden/internal/pipeline"
)

// askForEcho asks for approval of every echo call.
type askForEcho struct{}

func (askForEcho) Name() string { return "test-approval" }
func (askForEcho) Request(_ context.Context, c *pipeline.Call) (pipeline.Verdict, error) {
	if c.Method == "tools/call" && c.Name == "echo" {
		return pipeline.ApproveVerdict("test.echo_needs_approval", "echo talks back"), nil
	}
	return pipeline.Allow, nil
}

func TestApproval(t *testing.T) {
	g := startGateway(t, pipeline.NewChain(askForEcho{}), stdioServer("std"))
	for _, rev := range revisions {
		for _, answer := range []string{"yes", "no", "cannot"} {
			t.Run(rev+"/"+answer, func(t *testing.T) {
				var asked string
				opts := &mcp.ClientOptions{}
				if answer != "cannot" {
					opts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
						asked = req.Params.Message
						return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": answer == "yes"}}, nil
					}
				}
				c := mcp.NewClient(&mcp.Implementation{Name: "approver", Version: "1"}, opts)
				ts := connectHTTPClient(t, g, c, rev)
				res := call(t, ts, "std__echo", map[string]any{"text": "approved words"})
				switch answer {
				case "yes":
					if res.IsError || mcptest.Text(res) != "approved words" {
						t.Errorf("approved call = %q (isError %v)", mcptest.Text(res), res.IsError)
					}
					if !strings.Contains(asked, "echo talks back") || !strings.Contains(asked, "approved words") {
						t.Errorf("the question %q does not show the reason and the arguments", asked)
					}
				case "no":
					if !res.IsError || !strings.Contains(mcptest.Text(res), "test.echo_needs_approval") || !strings.Contains(mcptest.Text(res), "did not approve") {
						t.Errorf("declined call = %q, want a denial naming the rule", mcptest.Text(res))
					}
				case "cannot":
					if !res.IsError || !strings.Contains(mcptest.Text(res), "cannot ask") {
						t.Errorf("call from a client without elicitation = %q, want a denial saying it cannot ask", mcptest.Text(res))
					}
				}
				if got := mcptest.Text(call(t, ts, "std__add", map[string]any{"a": 1, "b": 1})); got != "2" {
					t.Errorf("a call that needs no approval = %q", got)
				}
			})
		}
	}
}

// TestCallerBinding: approvals and parked calls are bound to the subject
// together with how it authenticated.
func TestCallerBinding(t *testing.T) {
	for _, tc := range []struct {
		id   pipeline.Identity
		want string
	}{
		{pipeline.Identity{}, ""},
		{pipeline.Identity{Subject: "alice", Method: "api_key"}, "api_key:alice"},
		{pipeline.Identity{Subject: "alice", Method: "jwt"}, "jwt:alice"},
		{pipeline.Identity{Subject: "bob", Method: "stdio"}, "stdio:bob"},
	} {
		if got := callerBinding(tc.id); got != tc.want {
			t.Errorf("callerBinding(%+v) = %q, want %q", tc.id, got, tc.want)
		}
	}
	if callerBinding(pipeline.Identity{Subject: "alice", Method: "api_key"}) == callerBinding(pipeline.Identity{Subject: "alice", Method: "jwt"}) {
		t.Error("an API key and a token with the same name bind as one caller")
	}
}
