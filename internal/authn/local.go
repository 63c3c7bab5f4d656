package authn

import (
	"context"
	"os"
	"os/user"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/pipeline"
)

// LocalUser returns the identity of stdio callers (`mcpwarden wrap`):
// the operating system user mcpwarden runs as, who started the agent that
// speaks to it. Method is "stdio"; Claims hold the uid.
func LocalUser() pipeline.Identity {
	uid := strconv.Itoa(os.Getuid())
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "uid:" + uid
	}
	return pipeline.Identity{Subject: name, Method: MethodStdio, Claims: map[string]any{"uid": uid}}
}

// IdentifyLocal returns a gateway.Options.Identify func that names every
// caller id: for stdio, where the only caller is the local user.
func IdentifyLocal(id pipeline.Identity) func(context.Context, *mcp.RequestExtra) pipeline.Identity {
	return func(context.Context, *mcp.RequestExtra) pipeline.Identity { return id }
}
