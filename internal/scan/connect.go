package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/authcheck"
	"mcpwarden/internal/discover"
	"mcpwarden/internal/pin"
	"mcpwarden/internal/procenv"
	"mcpwarden/internal/report"
	"mcpwarden/internal/upstream"
)

// launch connects to a declared, URL or command target and lists it.
func (o *Options) launch(ctx context.Context, s *server) {
	d := s.t.Server
	switch {
	case d.Transport == discover.None:
		s.rep.Status, s.rep.Reason = report.NotScanned, "nothing to launch: "+orDefault(d.Note, "the declaration has neither a command nor a URL")
		return
	case d.Disabled:
		s.rep.Status, s.rep.Reason = report.Static, "disabled in the client config: reviewed from the config only, not launched"
		return
	}
	if un := launchUnresolved(d); len(un) > 0 {
		s.rep.Status, s.rep.Reason = report.NotScanned, "unresolved placeholders "+strings.Join(un, ", ")+": the server cannot be started as the client would start it"
		return
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	spec := &upstream.Spec{Name: s.rep.Name, Command: d.Command, Args: d.Args, Env: d.Env, Cwd: d.Cwd, URL: d.URL, Headers: d.Headers}
	switch d.Transport {
	case discover.SSE:
		spec.Transport = upstream.SSE
	case discover.HTTP:
		spec.Transport = upstream.Streamable
	default:
		spec.Transport = upstream.Stdio
		if o.Profile != nil {
			spec.Sandbox = o.Profile(d)
		}
	}
	if spec.Transport != upstream.Stdio {
		res := authcheck.Check(ctx, s.rep.Name, d.URL, authcheck.Options{
			HTTPClient: o.HTTPClient, Headers: o.expandHeaders(d.Headers), SSE: spec.Transport == upstream.SSE, Logger: o.Logger})
		s.rep.Findings = append(s.rep.Findings, res.Findings...)
		if res.NeedsAuth {
			s.rep.Status, s.rep.Reason = report.NotScanned, "needs authentication: "+res.Reason+"; give credentials with --header or --bearer-env"
			return
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-scan", Version: o.Version}, nil)
	conn, err := upstream.Dial(ctx, client, spec, upstream.Options{Logger: o.Logger, Launcher: o.Launcher, Lookup: o.Lookup, HTTPClient: o.HTTPClient})
	if err != nil {
		s.rep.Status, s.rep.Reason = report.NotScanned, o.failure("starting", ctx, err, "")
		return
	}
	defer conn.Close()
	if conn.Transport == upstream.SSE {
		s.rep.Transport = string(discover.SSE)
	}
	cs := conn.Session
	init := cs.InitializeResult()
	if init != nil {
		if init.ServerInfo != nil {
			s.rep.Info.Name, s.rep.Info.Version = init.ServerInfo.Name, init.ServerInfo.Version
		}
		s.rep.Info.Protocol, s.rep.Info.Instructions = init.ProtocolVersion, init.Instructions
		s.instructions = init.Instructions
	}
	caps := &mcp.ServerCapabilities{}
	if init != nil && init.Capabilities != nil {
		caps = init.Capabilities
	}
	var tools []json.RawMessage
	if caps.Tools != nil {
		if tools, err = list(cs.Tools(ctx, nil), nil); err != nil {
			s.rep.Status, s.rep.Reason = report.NotScanned, o.failure("tools/list", ctx, err, conn.StderrTail())
			return
		}
	}
	var partial []string
	if caps.Prompts != nil {
		if s.prompts, err = list(cs.Prompts(ctx, nil), func(p *mcp.Prompt) string { return p.Name }); err != nil {
			partial = append(partial, "prompts/list: "+err.Error())
		}
	}
	if caps.Resources != nil {
		if s.resources, err = list(cs.Resources(ctx, nil), func(r *mcp.Resource) string { return r.URI }); err != nil {
			partial = append(partial, "resources/list: "+err.Error())
		}
		if s.templates, err = list(cs.ResourceTemplates(ctx, nil), func(t *mcp.ResourceTemplate) string { return t.URITemplate }); err != nil && !isMethodNotFound(err) {
			partial = append(partial, "resources/templates/list: "+err.Error())
		}
	}
	s.rep.Status = report.Scanned
	s.decodeTools(tools)
	s.pinAs(o.identity(d))
	// List the tools again: a server that changes its definitions after
	// the first listing (the one a user approves) is pulling the rug.
	if caps.Tools != nil && s.first != nil {
		again, err := list(cs.Tools(ctx, nil), nil)
		if err != nil {
			partial = append(partial, "second tools/list: "+err.Error())
		} else {
			first := s.first
			s.decodeTools(again)
			s.pinAs(o.identity(d))
			if changes := pin.Compare(first, s.first); len(changes) > 0 {
				s.changed = true
				s.rep.Findings = append(s.rep.Findings, changeFindings(s.rep.Name, changes, true)...)
			}
			s.first = first
		}
	}
	if len(partial) > 0 {
		r := ruleDefault(PartialListing)
		f := newFinding(r, s.rep.Name, "", "Part of the server's listing failed", "What failed to list was not reviewed.")
		for _, p := range partial {
			f.Evidence = append(f.Evidence, evidence("listing", "", p))
		}
		s.rep.Findings = append(s.rep.Findings, f)
		s.rep.Reason = "partial: " + strings.Join(partial, "; ")
	}
}

func isMethodNotFound(err error) bool {
	return strings.Contains(err.Error(), "-32601") || strings.Contains(strings.ToLower(err.Error()), "method not found")
}

// list collects a paginated listing as JSON. key, when given, drops
// repeated entries (a server listing a prompt twice); tools keep theirs
// for the duplicate-name check.
func list[T any](seq iter.Seq2[T, error], key func(T) string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	seen := map[string]bool{}
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		if key != nil {
			k := key(v)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encoding a listed definition: %w", err)
		}
		out = append(out, b)
		if len(out) > 100000 {
			return nil, errors.New("more than 100000 entries: refusing to review an unbounded listing")
		}
	}
	return out, nil
}

// failure explains why a server could not be reviewed.
func (o *Options) failure(step string, ctx context.Context, err error, stderr string) string {
	msg := err.Error()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("timed out after %s (%s)", o.Timeout, step)
	} else if step != "starting" {
		msg = step + ": " + msg
	}
	if strings.Contains(msg, "401") || strings.Contains(msg, "Unauthorized") || strings.Contains(msg, "403 Forbidden") {
		msg = "needs authentication: " + msg
	}
	if stderr != "" && !strings.Contains(msg, stderr) {
		msg += " (stderr: " + stderr + ")"
	}
	return msg
}

func (o *Options) identity(d *discover.Server) pin.Identity {
	if d.Transport == discover.Stdio {
		id, err := pin.CommandIdentity(d.Command, d.Args, pin.IdentityOptions{Dir: d.Cwd})
		if err != nil {
			o.Logger.Debug("server identity", "server", d.Name, "err", err)
		}
		return id
	}
	id, err := pin.URLIdentity(d.URL)
	if err != nil {
		return pin.Identity{Key: "url:" + d.URL, ID: "url:" + d.URL}
	}
	return id
}

func (o *Options) expandHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if x, err := procenv.Expand(v, o.Lookup); err == nil {
			out[k] = x
		}
	}
	return out
}

// launchUnresolved lists the placeholders that stand in the way of
// starting the server as its client would.
func launchUnresolved(d *discover.Server) []string {
	return append([]string(nil), d.Unresolved...)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
