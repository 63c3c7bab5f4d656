package discover

import (
	"strconv"
)

// shape decodes the server declarations of one client's file layout.
type shape func(c *fileCtx, root *node) []Server

// stdEntry describes the variations of the common `mcpServers`-style entry
// shared by Claude, Cursor, Windsurf, Cline, Roo, Gemini CLI and VS Code.
type stdEntry struct {
	// gemini: url means SSE and httpUrl Streamable HTTP when no type is
	// given.
	gemini bool
}

// serverMap decodes an object of name → entry.
func (c *fileCtx) serverMap(obj *node, field string, decode func(name string, line int, v *node) (Server, bool)) []Server {
	if obj == nil || obj.kind == kNull {
		return nil
	}
	if obj.kind != kObject {
		c.errAt(obj.line, "%s", typeError(field, obj, "an object of servers"))
		return nil
	}
	var out []Server
	for _, m := range obj.entries() {
		if m.value.kind != kObject {
			c.errAt(m.line, "server %q: %s", m.key, typeError(field+"."+m.key, m.value, "an object"))
			continue
		}
		if s, ok := decode(m.key, m.line, m.value); ok {
			out = append(out, s)
		}
	}
	return out
}

func (c *fileCtx) std(opt stdEntry) func(string, int, *node) (Server, bool) {
	return func(name string, line int, v *node) (Server, bool) {
		e := c.newEntry(name, line)
		if t := v.get("type"); t != nil {
			e.setType("type", t)
		} else if t := v.get("transportType"); t != nil { // older Cline
			e.setType("transportType", t)
		}
		e.setCommand(v.get("command"))
		e.setArgs("args", v.get("args"))
		e.setEnv("env", v.get("env"))
		e.setEnvFile(v.get("envFile"))
		e.setCwd(v.get("cwd"))
		switch {
		case v.get("httpUrl") != nil: // Gemini CLI
			e.setURL("httpUrl", v.get("httpUrl"))
			if e.s.Transport == None {
				e.s.Transport = HTTP
			}
		case v.get("serverUrl") != nil: // Windsurf
			e.setURL("serverUrl", v.get("serverUrl"))
		default:
			e.setURL("url", v.get("url"))
			if opt.gemini && e.s.Transport == None && e.s.Raw.URL != "" && e.s.Raw.Command == "" {
				e.s.Transport = SSE
			}
		}
		e.setHeaders("headers", v.get("headers"))
		e.s.Disabled = v.get("disabled").truthy() || v.get("enabled").falsy()
		return e.finish()
	}
}

// shapeMCPServers is the plain `{"mcpServers": {...}}` file.
func shapeMCPServers(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("mcpServers"), "mcpServers", c.std(stdEntry{}))
}

func shapeGemini(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("mcpServers"), "mcpServers", c.std(stdEntry{gemini: true}))
}

// shapeClaudeJSON is ~/.claude.json: user servers at the top and
// per-project ("local" scope) servers under projects.<path>.mcpServers.
func shapeClaudeJSON(c *fileCtx, root *node) []Server {
	out := shapeMCPServers(c, root)
	projects := root.get("projects")
	if projects == nil || projects.kind != kObject {
		return out
	}
	for _, p := range projects.entries() {
		if p.value.kind != kObject {
			continue
		}
		pc := *c
		pc.scope, pc.project = ScopeLocal, p.key
		pc.errs = nil
		x := *c.x
		x.workspace = p.key
		pc.x = &x
		out = append(out, pc.serverMap(p.value.get("mcpServers"), "projects."+p.key+".mcpServers", pc.std(stdEntry{}))...)
		c.errs = append(c.errs, pc.errs...)
	}
	return out
}

// shapeVSCodeMCP is VS Code's mcp.json: {"servers": {...}, "inputs": [...]}.
// Inputs are prompted for by the editor, so ${input:ID} stays unresolved.
func shapeVSCodeMCP(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("servers"), "servers", c.std(stdEntry{}))
}

// shapeVSCodeSettings is a VS Code settings.json with an "mcp" section.
func shapeVSCodeSettings(c *fileCtx, root *node) []Server {
	return c.serverMap(root.path("mcp", "servers"), "mcp.servers", c.std(stdEntry{}))
}

// shapeZed is Zed's settings.json "context_servers". Entries are
// {command, args, env} (current), {command: {path, args, env}} (older),
// {url, headers} (remote) or extension-provided ({source: "extension"} or
// settings only).
func shapeZed(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("context_servers"), "context_servers", func(name string, line int, v *node) (Server, bool) {
		e := c.newEntry(name, line)
		cmd := v.get("command")
		switch {
		case cmd != nil && cmd.kind == kObject:
			e.setCommand(cmd.get("path"))
			e.setArgs("command.args", cmd.get("args"))
			e.setEnv("command.env", cmd.get("env"))
		case cmd != nil:
			e.setCommand(cmd)
			e.setArgs("args", v.get("args"))
			e.setEnv("env", v.get("env"))
		case v.get("url") != nil:
			e.setURL("url", v.get("url"))
			e.setHeaders("headers", v.get("headers"))
		default:
			src, _ := v.get("source").scalar()
			if src != "" && src != "extension" {
				e.fail(v, "no command or url")
				break
			}
			e.s.Note = "provided by a Zed extension: the launch command is not in the config"
		}
		e.s.Disabled = v.get("enabled").falsy()
		return e.finish()
	})
}

// shapeContinue handles config.yaml, config.json and the block files in
// .continue/mcpServers/. mcpServers is a list of named entries (YAML
// blocks) or a Claude-style map (JSON files copied from other clients);
// config.json also has experimental.modelContextProtocolServers.
func shapeContinue(c *fileCtx, root *node) []Server {
	var out []Server
	decode := func(name string, line int, v *node) (Server, bool) {
		e := c.newEntry(name, line)
		e.setType("type", v.get("type"))
		e.setCommand(v.get("command"))
		e.setArgs("args", v.get("args"))
		e.setEnv("env", v.get("env"))
		e.setCwd(v.get("cwd"))
		e.setURL("url", v.get("url"))
		e.setHeaders("requestOptions.headers", v.path("requestOptions", "headers"))
		e.setHeaders("headers", v.get("headers"))
		e.s.Disabled = v.get("disabled").truthy()
		return e.finish()
	}
	switch ms := root.get("mcpServers"); {
	case ms == nil || ms.kind == kNull:
	case ms.kind == kArray:
		for i, it := range ms.items {
			field := "mcpServers[" + strconv.Itoa(i) + "]"
			if it.kind != kObject {
				c.errAt(it.line, "%s", typeError(field, it, "an object"))
				continue
			}
			name, _ := it.get("name").scalar()
			if name == "" {
				c.errAt(it.line, "%s: server has no name", field)
				continue
			}
			if s, ok := decode(name, it.line, it); ok {
				out = append(out, s)
			}
		}
	case ms.kind == kObject:
		out = append(out, c.serverMap(ms, "mcpServers", c.std(stdEntry{}))...)
	default:
		c.errAt(ms.line, "%s", typeError("mcpServers", ms, "a list or object of servers"))
	}
	legacy := root.path("experimental", "modelContextProtocolServers")
	if legacy != nil && legacy.kind == kArray {
		for i, it := range legacy.items {
			field := "experimental.modelContextProtocolServers[" + strconv.Itoa(i) + "]"
			tr := it.get("transport")
			if it.kind != kObject || tr == nil || tr.kind != kObject {
				c.errAt(it.line, "%s: want an object with a transport", field)
				continue
			}
			name, _ := it.get("name").scalar()
			if name == "" {
				name = field
			}
			if s, ok := decode(name, it.line, tr); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// shapeCodex is ~/.codex/config.toml: [mcp_servers.NAME] tables.
func shapeCodex(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("mcp_servers"), "mcp_servers", func(name string, line int, v *node) (Server, bool) {
		e := c.newEntry(name, line)
		e.setCommand(v.get("command"))
		e.setArgs("args", v.get("args"))
		e.setEnv("env", v.get("env"))
		e.setCwd(v.get("cwd"))
		if ev := v.get("env_vars"); ev != nil && ev.kind == kArray {
			for _, it := range ev.items {
				if name, ok := it.scalar(); ok {
					e.envFromLookup(name, it.line)
				}
			}
		}
		e.setURL("url", v.get("url"))
		if e.s.Raw.URL != "" {
			e.s.Transport = HTTP // Codex speaks Streamable HTTP only
		}
		e.setHeaders("http_headers", v.get("http_headers"))
		if hv := v.get("env_http_headers"); hv != nil && hv.kind == kObject {
			for _, m := range hv.entries() {
				if envName, ok := m.value.scalar(); ok {
					e.headerFromEnv(m.key, "", envName, m.line)
				}
			}
		}
		if tv := v.get("bearer_token_env_var"); tv != nil {
			if envName, ok := tv.scalar(); ok {
				e.headerFromEnv("Authorization", "Bearer ", envName, tv.line)
			}
		}
		e.s.Disabled = v.get("enabled").falsy()
		return e.finish()
	})
}

// headerFromEnv sets a header whose value the client reads from an
// environment variable.
func (e *entry) headerFromEnv(header, prefix, envName string, line int) {
	v, ok := e.c.lookup(envName)
	if !ok {
		e.unresolvedName(envName)
		return
	}
	if e.s.Headers == nil {
		e.s.Headers = map[string]string{}
	}
	e.s.Headers[header] = prefix + v
	e.s.Lines["headers."+header] = line
}

// shapeOpenCode is opencode.json(c): "mcp": {NAME: {type: local|remote,
// command: [cmd, args...], environment, url, headers, enabled}}.
func shapeOpenCode(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("mcp"), "mcp", func(name string, line int, v *node) (Server, bool) {
		e := c.newEntry(name, line)
		e.setType("type", v.get("type"))
		switch cmd := v.get("command"); {
		case cmd == nil || cmd.kind == kNull:
		case cmd.kind == kArray && len(cmd.items) > 0:
			e.setCommand(cmd.items[0])
			for i, it := range cmd.items[1:] {
				a, ok := it.scalar()
				if !ok {
					e.fail(it, "%s", typeError("command["+strconv.Itoa(i+1)+"]", it, "a string"))
					break
				}
				e.addArg(a, it.line)
			}
		case cmd.kind == kString:
			e.setCommand(cmd)
		default:
			e.fail(cmd, "%s", typeError("command", cmd, "an array of strings"))
		}
		e.setEnv("environment", v.get("environment"))
		e.setURL("url", v.get("url"))
		e.setHeaders("headers", v.get("headers"))
		e.s.Disabled = v.get("enabled").falsy()
		return e.finish()
	})
}

// shapeGoose is Goose's config.yaml "extensions": KEY: {name, type, cmd,
// args, envs, env_keys, uri, headers, enabled}.
func shapeGoose(c *fileCtx, root *node) []Server {
	return c.serverMap(root.get("extensions"), "extensions", func(key string, line int, v *node) (Server, bool) {
		name, _ := v.get("name").scalar()
		if name == "" {
			name = key
		}
		e := c.newEntry(name, line)
		typ, _ := v.get("type").scalar()
		switch typ {
		case "stdio", "":
			e.s.Transport = Stdio
			e.setCommand(v.get("cmd"))
			e.setArgs("args", v.get("args"))
		case "sse", "streamable_http":
			e.s.Transport = SSE
			if typ == "streamable_http" {
				e.s.Transport = HTTP
			}
			e.setURL("uri", v.get("uri"))
			e.setHeaders("headers", v.get("headers"))
		case "builtin", "platform", "frontend", "inline_python":
			e.s.Note = "a Goose " + typ + " extension: it runs inside Goose, not as a configured command"
		default:
			e.fail(v.get("type"), "unknown extension type %q", typ)
		}
		if t := v.get("type"); t != nil {
			e.s.Lines["type"] = t.line
		}
		e.setEnv("envs", v.get("envs"))
		if ek := v.get("env_keys"); ek != nil && ek.kind == kArray {
			for _, it := range ek.items {
				if k, ok := it.scalar(); ok {
					e.envFromLookup(k, it.line)
				}
			}
		}
		e.s.Disabled = v.get("enabled").falsy()
		return e.finish()
	})
}
