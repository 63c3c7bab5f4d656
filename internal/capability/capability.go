// Package capability classifies what an MCP tool touches (filesystem,
// network, shell, database, email or messaging, secrets, code execution)
// from its name, title, description, input schema and annotations, for
// the scan's capability matrix and for the analyses that build on it
// (argument validation, toxic flows).
//
// Classification is lexical and deliberately generous: a tool that says
// it "runs journalctl" is a shell tool whatever its name. Every
// capability comes with the field and word that gave it away, so a
// reader can judge the call.
//
//	p := capability.Classify(&tool)
//	p.Has(report.CapShell)
package capability

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"mcpwarden/internal/report"
	"mcpwarden/internal/tooldef"
)

// Match is the evidence for one capability.
type Match struct {
	Capability report.Capability
	Field      string // "name", "description", "inputSchema.properties.url", "annotations.openWorldHint"
	Word       string // what matched
}

// Profile is what a tool touches.
type Profile struct {
	Caps    []report.Capability // in matrix order
	Matches []Match             // one per capability, same order
	// Text holds the tool's words per field, for analyses that look for
	// more words without tokenizing again.
	Text []FieldWords
}

// FieldWords is the tokenized text of one field of a tool.
type FieldWords struct {
	Field string
	Words []string
}

// Has reports whether the profile includes c.
func (p *Profile) Has(c report.Capability) bool { return slices.Contains(p.Caps, c) }

// Match returns the evidence for c.
func (p *Profile) Match(c report.Capability) (Match, bool) {
	for _, m := range p.Matches {
		if m.Capability == c {
			return m, true
		}
	}
	return Match{}, false
}

// rule says which words reveal a capability: any word of strong, or a
// word of each set of a pair anywhere in the tool's text.
type rule struct {
	c      report.Capability
	strong map[string]bool
	pairs  [][2]map[string]bool
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// CLI programs whose mention means a tool runs commands.
var cliNames = []string{"journalctl", "systemctl", "kubectl", "docker", "podman", "git", "scp", "rsync", "sudo",
	"apt", "brew", "ffmpeg", "grep", "rg", "sed", "awk", "tar", "unzip", "make", "pip", "npm", "psql", "mysqldump",
	"terraform", "ansible", "helm", "gcloud", "aws", "az", "ping", "traceroute", "nmap", "dig", "nslookup", "osascript"}

var runVerbs = set("run", "runs", "running", "execute", "executes", "exec", "invoke", "invokes", "issue", "call", "calls", "wraps", "via")

var rules = []rule{
	{c: report.CapFilesystem, strong: set("file", "files", "filesystem", "filename", "filenames", "filepath", "directory",
		"directories", "dir", "dirs", "folder", "folders", "path", "paths", "fs", "disk", "mkdir", "readdir", "glob",
		"symlink", "chmod", "workspace")},
	{c: report.CapNetwork, strong: set("url", "urls", "uri", "http", "https", "download", "upload", "webhook",
		"webhooks", "endpoint", "web", "website", "webpage", "browse", "browser", "scrape", "crawl", "crawler", "internet",
		"online", "curl", "wget", "dns", "socket", "hostname", "proxy", "api", "rest", "graphql", "remote")},
	{c: report.CapShell, strong: set("shell", "bash", "sh", "zsh", "powershell", "cmd", "terminal", "subprocess", "spawn", "commandline"),
		pairs: [][2]map[string]bool{
			{runVerbs, set("command", "commands")},
			// "runs journalctl -u SERVICE": a named program, run.
			{runVerbs, set(cliNames...)},
		}},
	{c: report.CapDatabase, strong: set("database", "databases", "db", "sql", "sqlite", "postgres", "postgresql", "mysql",
		"mariadb", "mongodb", "mongo", "redis", "dynamodb", "bigquery", "snowflake", "table", "tables", "rows", "crm",
		"elasticsearch", "supabase", "neo4j", "cypher"),
		pairs: [][2]map[string]bool{{set("query", "queries", "select", "insert", "records", "record"), set("data", "users", "records", "customers", "orders", "store")}}},
	{c: report.CapMessaging, strong: set("email", "emails", "mail", "inbox", "smtp", "imap", "gmail", "outlook", "slack",
		"discord", "telegram", "whatsapp", "sms", "tweet", "mattermost", "teams"),
		pairs: [][2]map[string]bool{{set("send", "sends", "post", "posts", "reply", "notify"), set("message", "messages", "chat", "channel", "notification")}}},
	{c: report.CapSecrets, strong: set("secret", "secrets", "token", "tokens", "credential", "credentials", "password",
		"passwords", "apikey", "vault", "keychain", "keyring", "env", "jwt", "oauth", "passphrase", "ssh"),
		pairs: [][2]map[string]bool{
			{set("debug", "diagnostic", "diagnostics", "dump"), set("configuration", "config", "environment", "settings", "variables")},
			{set("api", "private", "access", "signing"), set("key", "keys")},
			{set("environment"), set("variable", "variables")},
		}},
	{c: report.CapCodeExec, strong: set("eval", "evaluate", "interpreter", "repl", "python", "javascript", "js", "notebook",
		"jupyter", "compile", "typescript", "ruby", "lua", "wasm"),
		pairs: [][2]map[string]bool{{set("run", "runs", "execute", "executes", "exec"), set("code", "script", "scripts", "snippet", "program")}}},
}

// Classify profiles one tool.
func Classify(t *tooldef.Tool) Profile {
	var p Profile
	p.Text = append(p.Text, FieldWords{"name", Words(t.Name)})
	if t.Title != "" {
		p.Text = append(p.Text, FieldWords{"title", Words(t.Title)})
	}
	if t.Description != "" {
		p.Text = append(p.Text, FieldWords{"description", Words(t.Description)})
	}
	for _, prm := range t.Params() {
		p.Text = append(p.Text, FieldWords{prm.Path, Words(prm.Name)})
		if prm.Description != "" {
			p.Text = append(p.Text, FieldWords{prm.Path + ".description", Words(prm.Description)})
		}
	}
	for _, r := range rules {
		if m, ok := r.match(p.Text); ok {
			p.Caps = append(p.Caps, r.c)
			p.Matches = append(p.Matches, m)
		}
	}
	if ow, set := t.Annotation("openWorldHint"); set && ow && !p.Has(report.CapNetwork) {
		p.add(Match{Capability: report.CapNetwork, Field: "annotations.openWorldHint", Word: "openWorldHint: true"})
	}
	return p
}

// add inserts a match keeping matrix order.
func (p *Profile) add(m Match) {
	rank := func(c report.Capability) int { return slices.Index(report.Capabilities, c) }
	i := 0
	for i < len(p.Caps) && rank(p.Caps[i]) < rank(m.Capability) {
		i++
	}
	p.Caps = slices.Insert(p.Caps, i, m.Capability)
	p.Matches = slices.Insert(p.Matches, i, m)
}

func (r *rule) match(text []FieldWords) (Match, bool) {
	for _, f := range text {
		for _, w := range f.Words {
			if r.strong[w] {
				return Match{Capability: r.c, Field: f.Field, Word: w}, true
			}
		}
	}
	for _, pair := range r.pairs {
		a, af := find(text, pair[0])
		if a == "" {
			continue
		}
		if b, _ := find(text, pair[1]); b != "" {
			return Match{Capability: r.c, Field: af, Word: a + " … " + b}, true
		}
	}
	return Match{}, false
}

func find(text []FieldWords, s map[string]bool) (word, field string) {
	for _, f := range text {
		for _, w := range f.Words {
			if s[w] {
				return w, f.Field
			}
		}
	}
	return "", ""
}

// Words splits text into lower-case words: runs of letters and digits,
// with camelCase and snake_case names split ("readFile" → read, file).
func Words(s string) []string {
	var out []string
	start := -1
	var prev rune
	flush := func(end int) {
		if start >= 0 {
			out = append(out, strings.ToLower(s[start:end]))
			start = -1
		}
	}
	for i, r := range s {
		alnum := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case !alnum:
			flush(i)
		case start < 0:
			start = i
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			// camelCase boundary
			flush(i)
			start = i
		case unicode.IsUpper(prev) && unicode.IsLower(r) && i-start > utf8.RuneLen(prev):
			// "HTTPServer": the boundary is before the last capital
			j := i - utf8.RuneLen(prev)
			flush(j)
			start = j
		}
		prev = r
	}
	flush(len(s))
	return out
}

// Contains reports whether any field has one of words; it returns the
// first field and word found.
func (p *Profile) Contains(words map[string]bool) (field, word string, ok bool) {
	w, f := find(p.Text, words)
	return f, w, w != ""
}

// Set builds a word set for [Profile.Contains].
func Set(words ...string) map[string]bool { return set(words...) }
