// Package mcptest provides a real go-sdk MCP server with a known feature
// set, for end-to-end tests of the gateway and the scanner: tools that
// echo, add, report progress, ask the client for samples, elicitations and
// roots (through multi round-trip, which the go-sdk turns into
// server-to-client requests for 2025-era clients), sleep, crash, and change
// the tool list; a prompt with completions; a resource and a template.
//
// Tests run it in-process over HTTP, or as a stdio subprocess by
// re-executing the test binary: call [Main] from TestMain.
package mcptest

//lint:file-ignore SA1019 sampling, roots and logging are deprecated in 2026-07-28 but still legal; the gateway must relay them for every revision.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// EnvServe, when set in a re-executed test binary, makes [Main] serve the
// test server over stdio under the given name instead of running tests.
const EnvServe = "MCPTEST_SERVE"

// EnvAskRoots, set to 1 beside [EnvServe], makes the stdio server ask the
// client for its roots whenever they change, outside any call, and wait
// for the answer as long as the connection lasts (as server-everything
// does).
const EnvAskRoots = "MCPTEST_ASK_ROOTS"

// Main serves the test server over stdio and exits if the process was
// started for that (see [Command]); otherwise it returns. Call it first
// thing in TestMain.
func Main() {
	name := os.Getenv(EnvServe)
	if name == "" {
		return
	}
	var onRoots func(context.Context, *mcp.RootsListChangedRequest)
	if os.Getenv(EnvAskRoots) == "1" {
		onRoots = func(ctx context.Context, req *mcp.RootsListChangedRequest) {
			_, err := req.Session.ListRoots(ctx, nil)
			fmt.Fprintln(os.Stderr, "mcptest: roots/list ended:", err)
		}
	}
	s := newServer(name, onRoots)
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		fmt.Fprintln(os.Stderr, "mcptest:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Command returns the command and environment that start the test binary
// as stdio test server name.
func Command(name string) (path string, env map[string]string) {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe, map[string]string{EnvServe: name}
}

// NewServer returns the test server, named name.
func NewServer(name string) *mcp.Server { return newServer(name, nil) }

func newServer(name string, onRoots func(context.Context, *mcp.RootsListChangedRequest)) *mcp.Server {
	var changes atomic.Int32
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1.0.0"}, &mcp.ServerOptions{
		RootsListChangedHandler: onRoots,
		Instructions:            "Test server " + name + ". Call echo to check the connection.",
		CompletionHandler: func(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			var vals []string
			for _, c := range []string{"alice", "albert", "bob"} {
				if strings.HasPrefix(c, req.Params.Argument.Value) {
					vals = append(vals, c)
				}
			}
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: vals, Total: len(vals)}}, nil
		},
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})

	tool := func(name, desc string, props map[string]any, h mcp.ToolHandler) {
		schema := map[string]any{"type": "object"}
		if props != nil {
			schema["properties"] = props
		}
		s.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: schema}, h)
	}
	str := map[string]any{"type": "string"}
	num := map[string]any{"type": "number"}

	tool("echo", "Echo the text back.", map[string]any{"text": str}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ Text string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		return text(in.Text), nil
	})
	tool("add", "Add two numbers.", map[string]any{"a": num, "b": num}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ A, B float64 }
		if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
			return nil, err
		}
		return text(fmt.Sprint(in.A + in.B)), nil
	})
	tool("progress", "Report progress in steps, then finish.", map[string]any{"steps": num}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ Steps int }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		tok := req.Params.GetProgressToken()
		for i := 1; i <= in.Steps; i++ {
			if tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps), Message: fmt.Sprintf("step %d", i)})
			}
		}
		return text(fmt.Sprintf("done %d steps", in.Steps)), nil
	})
	tool("slow", "Sleep for ms milliseconds, or until cancelled.", map[string]any{"ms": num}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ MS int }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		select {
		case <-time.After(time.Duration(in.MS) * time.Millisecond):
			return text("slept"), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	tool("crash", "Exit the server process at once.", nil, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		fmt.Fprintln(os.Stderr, "mcptest: crashing on request")
		os.Exit(3)
		return nil, nil
	})
	tool("env", "Return the value of an environment variable.", map[string]any{"name": str}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ Name string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		v, ok := os.LookupEnv(in.Name)
		if !ok {
			return text("<unset>"), nil
		}
		return text(v), nil
	})
	tool("fetch", "GET a URL (through HTTP_PROXY when set) and return the status and body.", map[string]any{"url": str}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ URL string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		hreq, err := http.NewRequestWithContext(ctx, "GET", in.URL, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return text(fmt.Sprintf("%d %s", resp.StatusCode, body)), nil
	})
	tool("log", "Send a log message to the client.", map[string]any{"text": str}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ Text string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: in.Text})
		return text("logged"), nil
	})
	tool("add_tool", "Register a new tool named by the argument (list_changed).", map[string]any{"name": str}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in struct{ Name string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		changes.Add(1)
		s.AddTool(&mcp.Tool{Name: in.Name, Description: "Added at runtime.", InputSchema: map[string]any{"type": "object"}}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("new tool " + in.Name), nil
		})
		return text("added"), nil
	})

	// The interactive tools use multi round-trip; the go-sdk asks
	// 2025-era clients with real server-to-client requests instead.
	tool("sample", "Ask the client's model to complete the prompt.", map[string]any{"prompt": str}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if r, ok := req.Params.InputResponses["q"].(*mcp.CreateMessageWithToolsResult); ok {
			return text("model said: " + contentText(r.Content)), nil
		}
		if r, ok := req.Params.InputResponses["q"].(*mcp.CreateMessageResult); ok {
			return text("model said: " + contentText([]mcp.Content{r.Content})), nil
		}
		var in struct{ Prompt string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"q": &mcp.CreateMessageParams{
			MaxTokens: 50,
			Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Prompt}}},
		}}, RequestState: "sample-1"}, nil
	})
	tool("elicit", "Ask the user a question.", map[string]any{"question": str}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if r, ok := req.Params.InputResponses["q"].(*mcp.ElicitResult); ok {
			b, _ := json.Marshal(r.Content)
			return text(r.Action + " " + string(b)), nil
		}
		var in struct{ Question string }
		_ = json.Unmarshal(req.Params.Arguments, &in)
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"q": &mcp.ElicitParams{
			Message: in.Question,
			RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{
				"answer": map[string]any{"type": "string"},
			}},
		}}, RequestState: "elicit-1"}, nil
	})
	tool("roots", "List the client's roots.", nil, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if r, ok := req.Params.InputResponses["r"].(*mcp.ListRootsResult); ok {
			var uris []string
			for _, root := range r.Roots {
				uris = append(uris, root.URI)
			}
			return text(strings.Join(uris, ",")), nil
		}
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"r": &mcp.ListRootsParams{}}, RequestState: "roots-1"}, nil
	})

	s.AddPrompt(&mcp.Prompt{Name: "greet", Description: "Greet someone.", Arguments: []*mcp.PromptArgument{{Name: "name", Required: true}}},
		func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Description: "greeting", Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "Hello, " + req.Params.Arguments["name"] + "!"}}}}, nil
		})
	s.AddResource(&mcp.Resource{URI: "test://" + name + "/hello", Name: "hello", MIMEType: "text/plain"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "hello from " + name}}}, nil
		})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "test://" + name + "/items/{id}", Name: "item"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			id := strings.TrimPrefix(req.Params.URI, "test://"+name+"/items/")
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "item " + id}}}, nil
		})
	return s
}

// Handler serves a fresh test server over Streamable HTTP. Stateless
// serves revision 2026-07-28 requests; stateful serves 2025-era sessions.
func Handler(name string, stateless bool) http.Handler {
	s := NewServer(name)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: stateless})
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func contentText(cs []mcp.Content) string {
	var parts []string
	for _, c := range cs {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, " ")
}

// Text returns the text of a tool result's content, joined with spaces.
func Text(r *mcp.CallToolResult) string {
	if r == nil {
		return ""
	}
	return contentText(r.Content)
}
