package discover

import (
	"path/filepath"
	"strings"
)

// format is how a file is parsed.
type format uint8

const (
	formatJSONC format = iota // JSON, with comments and trailing commas allowed
	formatYAML
	formatTOML
	formatByExt // .yaml/.yml → YAML, .toml → TOML, else JSONC
)

// candidate is one place a client keeps MCP server declarations.
type candidate struct {
	client string
	path   string // may hold one * (a directory of block files)
	scope  Scope
	format format
	shape  shape
	style  style
	// project is the project directory a project file belongs to; it is
	// what ${workspaceFolder} means there.
	project string
}

// Clients lists the client IDs that discovery knows, in discovery order.
var Clients = []string{
	"claude-desktop", "claude-code", "cursor", "vscode", "vscode-insiders", "windsurf",
	"cline", "roo", "continue", "zed", "gemini-cli", "codex", "opencode", "goose",
}

// dirs holds the per-OS base directories, resolved once per discovery.
type dirs struct {
	os      string
	home    string
	config  string // XDG_CONFIG_HOME (or ~/.config); Windows: also ~/.config (xdg-basedir)
	appData string // Windows %APPDATA%; macOS ~/Library/Application Support; Linux = config
	// programData and programFiles are Windows system dirs; root prefixes
	// the Unix system paths (/etc, /Library) so tests can relocate them.
	programData  string
	programFiles string
	localAppData string
	root         string
}

func newDirs(o *Options) dirs {
	env := func(k, def string) string {
		if v, ok := o.Getenv(k); ok && v != "" {
			return v
		}
		return def
	}
	d := dirs{os: o.OS, home: o.Home, root: o.Root}
	d.config = env("XDG_CONFIG_HOME", filepath.Join(o.Home, ".config"))
	switch o.OS {
	case "windows":
		d.appData = env("APPDATA", filepath.Join(o.Home, "AppData", "Roaming"))
		d.programData = env("PROGRAMDATA", `C:\ProgramData`)
		d.programFiles = env("PROGRAMFILES", `C:\Program Files`)
		d.localAppData = env("LOCALAPPDATA", filepath.Join(o.Home, "AppData", "Local"))
	case "darwin":
		d.appData = filepath.Join(o.Home, "Library", "Application Support")
	default:
		d.appData = d.config
	}
	return d
}

// sys joins a Unix system path under the test root.
func (d dirs) sys(p ...string) string { return filepath.Join(append([]string{d.root}, p...)...) }

// editorUser returns the User settings directory of a VS Code-family
// editor ("Code", "Code - Insiders", "Cursor", "Windsurf", "VSCodium").
func (d dirs) editorUser(product string) string {
	return filepath.Join(d.appData, product, "User")
}

func (d dirs) candidates(o *Options) []candidate {
	h := d.home
	env := func(k string) string {
		v, _ := o.Getenv(k)
		return v
	}
	var cs []candidate
	add := func(c candidate) { cs = append(cs, c) }

	// Claude Desktop. Linux has no official build; the community builds use
	// ~/.config/Claude.
	add(candidate{client: "claude-desktop", path: filepath.Join(d.appData, "Claude", "claude_desktop_config.json"), shape: shapeMCPServers})
	if d.os == "windows" {
		// The Microsoft Store (MSIX) build keeps its roaming data in the
		// package's virtualised LocalCache.
		add(candidate{client: "claude-desktop", path: filepath.Join(d.localAppData, "Packages", "Claude_*", "LocalCache", "Roaming", "Claude", "claude_desktop_config.json"), shape: shapeMCPServers})
	}

	// Claude Code.
	claudeDir := h
	if v := env("CLAUDE_CONFIG_DIR"); v != "" {
		claudeDir = v
	}
	add(candidate{client: "claude-code", path: filepath.Join(claudeDir, ".claude.json"), shape: shapeClaudeJSON, style: styleClaudeCode})
	switch d.os {
	case "darwin":
		add(candidate{client: "claude-code", scope: ScopeManaged, path: d.sys("Library", "Application Support", "ClaudeCode", "managed-mcp.json"), shape: shapeMCPServers, style: styleClaudeCode})
	case "windows":
		add(candidate{client: "claude-code", scope: ScopeManaged, path: filepath.Join(d.programFiles, "ClaudeCode", "managed-mcp.json"), shape: shapeMCPServers, style: styleClaudeCode})
		add(candidate{client: "claude-code", scope: ScopeManaged, path: filepath.Join(d.programData, "ClaudeCode", "managed-mcp.json"), shape: shapeMCPServers, style: styleClaudeCode})
	default:
		add(candidate{client: "claude-code", scope: ScopeManaged, path: d.sys("etc", "claude-code", "managed-mcp.json"), shape: shapeMCPServers, style: styleClaudeCode})
	}

	// Cursor.
	add(candidate{client: "cursor", path: filepath.Join(h, ".cursor", "mcp.json"), shape: shapeMCPServers, style: styleVSCode})

	// VS Code and Insiders: the user mcp.json (current), the "mcp" section
	// of settings.json (older), and per-profile mcp.json files.
	for _, v := range []struct{ client, product string }{{"vscode", "Code"}, {"vscode-insiders", "Code - Insiders"}} {
		u := d.editorUser(v.product)
		add(candidate{client: v.client, path: filepath.Join(u, "mcp.json"), shape: shapeVSCodeMCP, style: styleVSCode})
		add(candidate{client: v.client, path: filepath.Join(u, "settings.json"), shape: shapeVSCodeSettings, style: styleVSCode})
		add(candidate{client: v.client, path: filepath.Join(u, "profiles", "*", "mcp.json"), shape: shapeVSCodeMCP, style: styleVSCode})
	}

	// Windsurf (same path on every OS).
	for _, dir := range []string{"windsurf", "windsurf-next"} {
		add(candidate{client: "windsurf", path: filepath.Join(h, ".codeium", dir, "mcp_config.json"), shape: shapeMCPServers, style: styleVSCode})
	}

	// Cline and Roo keep their settings in the globalStorage of whichever
	// VS Code-family editor they are installed in.
	for _, product := range []string{"Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf"} {
		gs := filepath.Join(d.editorUser(product), "globalStorage")
		add(candidate{client: "cline", path: filepath.Join(gs, "saoudrizwan.claude-dev", "settings", "cline_mcp_settings.json"), shape: shapeMCPServers})
		add(candidate{client: "roo", path: filepath.Join(gs, "rooveterinaryinc.roo-cline", "settings", "mcp_settings.json"), shape: shapeMCPServers, style: styleVSCode})
	}

	// Continue.
	cont := filepath.Join(h, ".continue")
	if v := env("CONTINUE_GLOBAL_DIR"); v != "" {
		cont = v
	}
	add(candidate{client: "continue", path: filepath.Join(cont, "config.yaml"), format: formatYAML, shape: shapeContinue, style: styleContinue})
	add(candidate{client: "continue", path: filepath.Join(cont, "config.json"), shape: shapeContinue, style: styleContinue})
	add(candidate{client: "continue", path: filepath.Join(cont, "mcpServers", "*"), format: formatByExt, shape: shapeContinue, style: styleContinue})

	// Zed.
	zed := filepath.Join(d.config, "zed", "settings.json")
	switch d.os {
	case "windows":
		zed = filepath.Join(d.appData, "Zed", "settings.json")
	case "darwin":
		zed = filepath.Join(h, ".config", "zed", "settings.json")
	}
	add(candidate{client: "zed", path: zed, shape: shapeZed})

	// Gemini CLI: user, then system settings.
	add(candidate{client: "gemini-cli", path: filepath.Join(h, ".gemini", "settings.json"), shape: shapeGemini, style: styleGemini})
	gsys := env("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
	if gsys == "" {
		switch d.os {
		case "darwin":
			gsys = d.sys("Library", "Application Support", "GeminiCli", "settings.json")
		case "windows":
			gsys = filepath.Join(d.programData, "gemini-cli", "settings.json")
		default:
			gsys = d.sys("etc", "gemini-cli", "settings.json")
		}
	}
	add(candidate{client: "gemini-cli", scope: ScopeManaged, path: gsys, shape: shapeGemini, style: styleGemini})

	// Codex.
	codex := filepath.Join(h, ".codex")
	if v := env("CODEX_HOME"); v != "" {
		codex = v
	}
	add(candidate{client: "codex", path: filepath.Join(codex, "config.toml"), format: formatTOML, shape: shapeCodex})

	// OpenCode uses the XDG layout on every OS.
	if v := env("OPENCODE_CONFIG"); v != "" {
		add(candidate{client: "opencode", path: v, shape: shapeOpenCode, style: styleOpenCode})
	}
	for _, f := range []string{"opencode.json", "opencode.jsonc", "config.json"} {
		add(candidate{client: "opencode", path: filepath.Join(d.config, "opencode", f), shape: shapeOpenCode, style: styleOpenCode})
	}

	// Goose.
	goose := filepath.Join(d.config, "goose", "config.yaml")
	switch d.os {
	case "windows":
		goose = filepath.Join(d.appData, "Block", "goose", "config", "config.yaml")
	case "darwin":
		goose = filepath.Join(h, ".config", "goose", "config.yaml")
	}
	add(candidate{client: "goose", path: goose, format: formatYAML, shape: shapeGoose})

	// Project files in the working directory.
	if p := o.Cwd; p != "" {
		proj := func(c candidate) {
			c.scope, c.project = ScopeProject, p
			add(c)
		}
		proj(candidate{client: "claude-code", path: filepath.Join(p, ".mcp.json"), shape: shapeMCPServers, style: styleClaudeCode})
		proj(candidate{client: "cursor", path: filepath.Join(p, ".cursor", "mcp.json"), shape: shapeMCPServers, style: styleVSCode})
		proj(candidate{client: "vscode", path: filepath.Join(p, ".vscode", "mcp.json"), shape: shapeVSCodeMCP, style: styleVSCode})
		proj(candidate{client: "vscode", path: filepath.Join(p, ".vscode", "settings.json"), shape: shapeVSCodeSettings, style: styleVSCode})
		proj(candidate{client: "roo", path: filepath.Join(p, ".roo", "mcp.json"), shape: shapeMCPServers, style: styleVSCode})
		proj(candidate{client: "continue", path: filepath.Join(p, ".continue", "mcpServers", "*"), format: formatByExt, shape: shapeContinue, style: styleContinue})
		proj(candidate{client: "zed", path: filepath.Join(p, ".zed", "settings.json"), shape: shapeZed})
		proj(candidate{client: "gemini-cli", path: filepath.Join(p, ".gemini", "settings.json"), shape: shapeGemini, style: styleGemini})
		for _, f := range []string{"opencode.json", "opencode.jsonc"} {
			proj(candidate{client: "opencode", path: filepath.Join(p, f), shape: shapeOpenCode, style: styleOpenCode})
		}
	}
	for i := range cs {
		if cs[i].scope == "" {
			cs[i].scope = ScopeUser
		}
	}
	return cs
}

// pattern recognises a known client file by the tail of its path, for
// [Load]. Patterns use forward slashes; paths are compared in slash form.
type pattern struct {
	suffix string
	c      candidate
	// projectUp is how many directories above the file the project root
	// is, for project files (-1 for user files).
	projectUp int
}

var patterns = []pattern{
	{"/claude_desktop_config.json", candidate{client: "claude-desktop", shape: shapeMCPServers}, -1},
	{"/.claude.json", candidate{client: "claude-code", shape: shapeClaudeJSON, style: styleClaudeCode}, -1},
	{"/managed-mcp.json", candidate{client: "claude-code", scope: ScopeManaged, shape: shapeMCPServers, style: styleClaudeCode}, -1},
	{"/.mcp.json", candidate{client: "claude-code", shape: shapeMCPServers, style: styleClaudeCode}, 0},
	{"/.cursor/mcp.json", candidate{client: "cursor", shape: shapeMCPServers, style: styleVSCode}, 1},
	{"/.vscode/mcp.json", candidate{client: "vscode", shape: shapeVSCodeMCP, style: styleVSCode}, 1},
	{"/.vscode/settings.json", candidate{client: "vscode", shape: shapeVSCodeSettings, style: styleVSCode}, 1},
	{"/Code - Insiders/User/mcp.json", candidate{client: "vscode-insiders", shape: shapeVSCodeMCP, style: styleVSCode}, -1},
	{"/Code - Insiders/User/settings.json", candidate{client: "vscode-insiders", shape: shapeVSCodeSettings, style: styleVSCode}, -1},
	{"/Code/User/mcp.json", candidate{client: "vscode", shape: shapeVSCodeMCP, style: styleVSCode}, -1},
	{"/Code/User/settings.json", candidate{client: "vscode", shape: shapeVSCodeSettings, style: styleVSCode}, -1},
	{"/mcp_config.json", candidate{client: "windsurf", shape: shapeMCPServers, style: styleVSCode}, -1},
	{"/cline_mcp_settings.json", candidate{client: "cline", shape: shapeMCPServers}, -1},
	{"/rooveterinaryinc.roo-cline/settings/mcp_settings.json", candidate{client: "roo", shape: shapeMCPServers, style: styleVSCode}, -1},
	{"/.roo/mcp.json", candidate{client: "roo", shape: shapeMCPServers, style: styleVSCode}, 1},
	{"/.continue/config.yaml", candidate{client: "continue", format: formatYAML, shape: shapeContinue, style: styleContinue}, -1},
	{"/.continue/config.json", candidate{client: "continue", shape: shapeContinue, style: styleContinue}, -1},
	{"/zed/settings.json", candidate{client: "zed", shape: shapeZed}, -1},
	{"/Zed/settings.json", candidate{client: "zed", shape: shapeZed}, -1},
	{"/.zed/settings.json", candidate{client: "zed", shape: shapeZed}, 1},
	{"/.gemini/settings.json", candidate{client: "gemini-cli", shape: shapeGemini, style: styleGemini}, -1},
	{"/gemini-cli/settings.json", candidate{client: "gemini-cli", scope: ScopeManaged, shape: shapeGemini, style: styleGemini}, -1},
	{"/GeminiCli/settings.json", candidate{client: "gemini-cli", scope: ScopeManaged, shape: shapeGemini, style: styleGemini}, -1},
	{"/.codex/config.toml", candidate{client: "codex", format: formatTOML, shape: shapeCodex}, -1},
	{"/opencode.json", candidate{client: "opencode", shape: shapeOpenCode, style: styleOpenCode}, 0},
	{"/opencode.jsonc", candidate{client: "opencode", shape: shapeOpenCode, style: styleOpenCode}, 0},
	{"/goose/config.yaml", candidate{client: "goose", format: formatYAML, shape: shapeGoose}, -1},
	{"/goose/config/config.yaml", candidate{client: "goose", format: formatYAML, shape: shapeGoose}, -1},
}

// matchPattern finds the client file a path names, if any.
func matchPattern(path string) (candidate, bool) {
	slash := filepath.ToSlash(path)
	if !strings.HasPrefix(slash, "/") {
		slash = "/" + slash
	}
	if strings.Contains(slash, "/.continue/mcpServers/") {
		return candidate{client: "continue", format: formatByExt, shape: shapeContinue, style: styleContinue, project: projectOf(path, 2)}, true
	}
	for _, p := range patterns {
		if !strings.HasSuffix(slash, p.suffix) {
			continue
		}
		c := p.c
		c.path = path
		if p.projectUp >= 0 {
			c.scope = ScopeProject
			c.project = projectOf(path, p.projectUp)
		}
		// The global opencode file lives in a config directory, not a
		// project: ~/.config/opencode/opencode.json.
		if c.client == "opencode" && filepath.Base(filepath.Dir(path)) == "opencode" {
			c.scope, c.project = "", ""
		}
		return c, true
	}
	return candidate{}, false
}

// projectOf returns the directory up levels above the file's directory.
func projectOf(path string, up int) string {
	d := filepath.Dir(path)
	for range up {
		d = filepath.Dir(d)
	}
	return d
}
