package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// catalog is what one backend last listed, keyed by upstream name (tools,
// prompts) or URI (resources, templates). It is owned by the backend and
// guarded by its refreshMu.
type catalog struct {
	tools     map[string]*mcp.Tool
	prompts   map[string]*mcp.Prompt
	resources map[string]*mcp.Resource
	templates map[string]*mcp.ResourceTemplate
	// fingerprints of what is registered downstream, to skip re-adding
	// unchanged items (each add sends list_changed to every session).
	toolFP, promptFP, resFP, tmplFP map[string]string
}

type listKind uint8

const (
	kindTools listKind = 1 << iota
	kindPrompts
	kindResources
	kindTemplates
	kindAll = kindTools | kindPrompts | kindResources | kindTemplates
)

// refresh lists the selected features of the backend and brings the
// downstream registry in line: new and changed items are added under
// their namespaced names, vanished ones removed. The go-sdk server then
// tells every session that the list changed.
func (b *backend) refresh(ctx context.Context, cs *mcp.ClientSession, kinds listKind) error {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	caps := cs.InitializeResult().Capabilities
	if caps == nil {
		caps = &mcp.ServerCapabilities{}
	}
	var errs []error
	if kinds&kindTools != 0 && caps.Tools != nil {
		tools, err := collect(cs.Tools(ctx, nil), func(t *mcp.Tool) string { return t.Name })
		if err != nil {
			errs = append(errs, fmt.Errorf("tools/list: %w", err))
		} else {
			b.syncTools(tools)
		}
	}
	if kinds&kindPrompts != 0 && caps.Prompts != nil {
		prompts, err := collect(cs.Prompts(ctx, nil), func(p *mcp.Prompt) string { return p.Name })
		if err != nil {
			errs = append(errs, fmt.Errorf("prompts/list: %w", err))
		} else {
			b.syncPrompts(prompts)
		}
	}
	if kinds&kindResources != 0 && caps.Resources != nil {
		res, err := collect(cs.Resources(ctx, nil), func(r *mcp.Resource) string { return r.URI })
		if err != nil {
			errs = append(errs, fmt.Errorf("resources/list: %w", err))
		} else {
			b.syncResources(res)
		}
	}
	if kinds&kindTemplates != 0 && caps.Resources != nil {
		tmpl, err := collect(cs.ResourceTemplates(ctx, nil), func(t *mcp.ResourceTemplate) string { return t.URITemplate })
		if err != nil {
			errs = append(errs, fmt.Errorf("resources/templates/list: %w", err))
		} else {
			b.syncTemplates(tmpl)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// maxListItems bounds what one server may register, so a hostile server
// cannot exhaust the gateway's memory by paginating forever.
const maxListItems = 10000

func collect[T any](seq func(func(T, error) bool), key func(T) string) (map[string]T, error) {
	out := make(map[string]T)
	var err error
	seq(func(v T, e error) bool {
		if e != nil {
			err = e
			return false
		}
		if len(out) >= maxListItems {
			err = fmt.Errorf("more than %d items; the rest were ignored", maxListItems)
			return false
		}
		out[key(v)] = v
		return true
	})
	return out, err
}

func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// syncSet is the shared diffing of one kind of item: it calls add for
// new or changed items and remove for vanished ones, and records what is
// registered.
func syncSet[T any](have map[string]string, next map[string]T, add func(key string, v T) bool, remove func(keys []string)) map[string]string {
	if have == nil {
		have = make(map[string]string)
	}
	for _, k := range slices.Sorted(maps.Keys(next)) {
		fp := fingerprint(next[k])
		if have[k] == fp {
			continue
		}
		if add(k, next[k]) {
			have[k] = fp
		} else {
			delete(have, k)
		}
	}
	var gone []string
	for k := range have {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		remove(gone)
		for _, k := range gone {
			delete(have, k)
		}
	}
	return have
}

func (b *backend) syncTools(tools map[string]*mcp.Tool) {
	g := b.g
	b.cat.toolFP = syncSet(b.cat.toolFP, tools, func(name string, t *mcp.Tool) bool {
		nt := *t
		nt.Name = g.join(b.name, name)
		if err := validToolName(nt.Name); err != nil {
			b.log.Warn("tool withheld: its namespaced name is not valid", "tool", name, "err", err)
			return false
		}
		return safeAdd(b, "tool", name, func() { b.addTool(&nt, name) })
	}, func(names []string) {
		ns := make([]string, len(names))
		for i, n := range names {
			ns[i] = g.join(b.name, n)
		}
		g.srv.RemoveTools(ns...)
	})
	b.cat.tools = tools
	b.toolCount.Store(int64(len(b.cat.toolFP)))
}

// addTool registers t (already under its namespaced name) downstream.
func (b *backend) addTool(t *mcp.Tool, name string) {
	b.g.srv.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return b.g.callTool(ctx, b, name, req)
	})
}

// ToolsChanged tells every session that its tool list changed, when what
// a client may see changed although no server's list did (a pin approved
// in the lockfile): the go-sdk has no call for that, but re-registering
// one tool unchanged sends the notification.
func (g *Gateway) ToolsChanged() {
	for _, b := range g.backends {
		if b.reannounceTool() {
			return
		}
	}
}

// reannounceTool registers one of b's tools again, unchanged, and reports
// whether b had one.
func (b *backend) reannounceTool() bool {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	for name, t := range b.cat.tools {
		if _, registered := b.cat.toolFP[name]; registered {
			nt := *t
			nt.Name = b.g.join(b.name, name)
			b.addTool(&nt, name)
			return true
		}
	}
	return false
}

func (b *backend) syncPrompts(prompts map[string]*mcp.Prompt) {
	g := b.g
	b.cat.promptFP = syncSet(b.cat.promptFP, prompts, func(name string, p *mcp.Prompt) bool {
		np := *p
		np.Name = g.join(b.name, name)
		return safeAdd(b, "prompt", name, func() {
			g.srv.AddPrompt(&np, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				return g.getPrompt(ctx, b, name, req)
			})
		})
	}, func(names []string) {
		ns := make([]string, len(names))
		for i, n := range names {
			ns[i] = g.join(b.name, n)
		}
		g.srv.RemovePrompts(ns...)
	})
	b.cat.prompts = prompts
}

func (b *backend) syncResources(res map[string]*mcp.Resource) {
	g := b.g
	b.cat.resFP = syncSet(b.cat.resFP, res, func(uri string, r *mcp.Resource) bool {
		if owner, ok := g.subs.claim(uri, b.name); !ok {
			b.log.Warn("resource withheld: another server already lists this URI", "uri", uri, "owner", owner)
			return false
		}
		return safeAdd(b, "resource", uri, func() {
			g.srv.AddResource(r, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return g.readResource(ctx, b, req)
			})
		})
	}, func(uris []string) {
		for _, u := range uris {
			g.subs.release(u, b.name)
		}
		g.srv.RemoveResources(uris...)
	})
	b.cat.resources = res
}

func (b *backend) syncTemplates(tmpl map[string]*mcp.ResourceTemplate) {
	g := b.g
	b.cat.tmplFP = syncSet(b.cat.tmplFP, tmpl, func(uri string, t *mcp.ResourceTemplate) bool {
		if owner, ok := g.subs.claim("template:"+uri, b.name); !ok {
			b.log.Warn("resource template withheld: another server already lists it", "uri_template", uri, "owner", owner)
			return false
		}
		return safeAdd(b, "resource template", uri, func() {
			g.srv.AddResourceTemplate(t, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return g.readResource(ctx, b, req)
			})
		})
	}, func(uris []string) {
		for _, u := range uris {
			g.subs.release("template:"+u, b.name)
		}
		g.srv.RemoveResourceTemplates(uris...)
	})
	b.cat.templates = tmpl
}

// safeAdd registers an item with the go-sdk server, which panics on
// definitions it cannot serve (a tool schema that is not an object, a bad
// URI template). A hostile or buggy upstream must not crash the gateway:
// the item is withheld and the reason logged.
func safeAdd(b *backend, kind, name string, add func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Warn(kind+" withheld: the definition is invalid", "name", name, "err", fmt.Sprint(r))
			ok = false
		}
	}()
	add()
	return true
}

// validToolName applies the MCP tool-name rules (SEP-986): 1 to 128
// characters from A-Z a-z 0-9 _ - . so that namespaced names stay valid
// for every client.
func validToolName(name string) error {
	if len(name) == 0 || len(name) > 128 {
		return fmt.Errorf("length %d is outside 1..128", len(name))
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("character %q is not allowed", r)
		}
	}
	return nil
}
