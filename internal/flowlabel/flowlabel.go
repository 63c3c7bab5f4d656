// Package flowlabel decides which roles an MCP tool can play in a toxic
// flow (the "lethal trifecta"): a source of untrusted content (a web
// page, a ticket, an email), a reader of private data (files, databases,
// credentials) and an exfiltration sink (a tool that can send data out).
//
// Labels come from the tool's definition alone: its annotations
// (readOnlyHint, openWorldHint), the words of its name and description,
// and the names of its parameters (a url parameter lets a tool send data
// anywhere). They are a classifier's guess, meant to be overridden by
// configuration; the gateway's flows control and the scanner both use
// them.
//
//	l := flowlabel.Label(rawTool)
//	if l.Sink != "" { ... } // l.Sink says why
package flowlabel

import (
	"encoding/json"
	"strings"
	"unicode"
)

// Labels are the roles of one tool, each with the reason, "" when the
// tool does not play it.
type Labels struct {
	Source  string `json:"untrusted_source,omitempty"`
	Private string `json:"private_reader,omitempty"`
	Sink    string `json:"exfil_sink,omitempty"`
}

// Any reports whether the tool plays some role.
func (l Labels) Any() bool { return l.Source != "" || l.Private != "" || l.Sink != "" }

type tool struct {
	Name        string         `json:"name"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	InputSchema map[string]any `json:"inputSchema"`
	Annotations *struct {
		ReadOnly    *bool `json:"readOnlyHint"`
		OpenWorld   *bool `json:"openWorldHint"`
		Destructive *bool `json:"destructiveHint"`
	} `json:"annotations"`
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var (
	readVerbs = set("get", "read", "list", "search", "fetch", "view", "show", "query", "find", "lookup", "browse",
		"load", "open", "cat", "retrieve", "download", "scrape", "crawl", "describe", "inspect", "tail", "grep", "dump", "export")
	sendVerbs = set("send", "post", "reply", "publish", "notify", "forward", "share", "upload", "push", "submit",
		"email", "mail", "message", "tweet", "comment", "invite", "webhook", "dm", "sms", "text", "broadcast", "transfer")
	writeVerbs  = set("create", "write", "add", "open", "file", "update")
	thirdParty  = set("ticket", "tickets", "issue", "issues", "comment", "comments", "review", "reviews", "feed", "rss", "forum", "chat", "message", "messages", "email", "emails", "inbox", "mail", "webpage", "web", "website", "url", "page", "pages", "html", "tweet", "tweets", "post", "posts", "news", "pr", "prs", "discussion", "thread", "threads", "channel", "browser", "search")
	publicPlace = set("issue", "issues", "comment", "comments", "pr", "gist", "post", "message", "tweet", "discussion", "thread", "channel", "review")
	private     = set("file", "files", "path", "dir", "directory", "folder", "document", "documents", "doc", "docs", "drive", "db", "database", "table", "tables", "sql", "record", "records", "user", "users", "profile", "account", "accounts", "contact", "contacts", "calendar", "secret", "secrets", "credential", "credentials", "key", "keys", "token", "tokens", "password", "env", "environment", "config", "configuration", "log", "logs", "journal", "history", "memory", "note", "notes", "debug", "diagnostic", "diagnostics", "customer", "customers", "payroll", "salary", "patient", "invoice", "invoices", "repo", "repository", "source", "code", "ssh", "wallet", "mailbox")
	urlParams   = set("url", "urls", "uri", "endpoint", "webhook", "link", "href", "callback", "host", "domain")
	pathParams  = set("path", "file", "filename", "filepath", "dir", "directory", "folder")
)

// Label decides the roles of the tool whose MCP definition is raw. A
// definition that is not a JSON object gets no labels.
func Label(raw []byte) Labels {
	var t tool
	if json.Unmarshal(raw, &t) != nil {
		return Labels{}
	}
	var ro, ow *bool
	if a := t.Annotations; a != nil {
		ro, ow = a.ReadOnly, a.OpenWorld
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }

	name := Words(t.Name)
	desc := Words(t.Title + " " + t.Description)
	first := func(ws []string, s map[string]bool) string {
		for _, w := range ws {
			if s[w] {
				return w
			}
		}
		return ""
	}
	params := paramNames(t.InputSchema)
	urlParam, pathParam := "", ""
	for _, p := range params {
		for _, w := range Words(p) {
			if urlParams[w] && urlParam == "" {
				urlParam = p
			}
			if pathParams[w] && pathParam == "" {
				pathParam = p
			}
		}
	}
	read := first(name, readVerbs)
	if read == "" && isTrue(ro) {
		read = "readOnlyHint"
	}
	send := first(name, sendVerbs)
	write := first(name, writeVerbs)

	var l Labels
	switch {
	case isTrue(ow) && isTrue(ro):
		l.Source = "reads from an open world (annotations: openWorldHint, readOnlyHint)"
	case read != "" && first(name, thirdParty) != "":
		l.Source = read + " " + first(name, thirdParty) + " (third-party content, from the tool name)"
	case read != "" && urlParam != "":
		l.Source = read + " by URL (parameter " + urlParam + ")"
	case read != "" && first(desc, thirdParty) != "" && !isFalse(ow):
		l.Source = read + " " + first(desc, thirdParty) + " (third-party content, from the description)"
	}
	if w := first(name, private); w != "" && (read != "" || send == "" && write == "") {
		l.Private = "reads " + w + " (from the tool name)"
	} else if read != "" && pathParam != "" {
		l.Private = read + " by path (parameter " + pathParam + ")"
	}
	switch {
	case send != "":
		l.Sink = send + " (from the tool name)"
	case urlParam != "" && !isFalse(ow):
		l.Sink = "takes a URL (parameter " + urlParam + "): data can leave in the request"
	case isTrue(ow) && !isTrue(ro):
		l.Sink = "acts on an open world (annotations: openWorldHint without readOnlyHint)"
	case write != "" && first(name, publicPlace) != "":
		l.Sink = write + " " + first(name, publicPlace) + " (others can read it)"
	}
	return l
}

// paramNames lists the top-level property names of an input schema.
func paramNames(schema map[string]any) []string {
	props, _ := schema["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	return out
}

// Words splits an identifier or a text into lower-case words: snake_case,
// kebab-case, camelCase and dotted names all split.
func Words(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	prev := rune(0)
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			if unicode.IsLower(prev) {
				flush()
			}
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	return out
}
