package access

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"mcpwarden/internal/pipeline"
)

// catalog is a fake gateway catalog: namespaced names "server__tool".
type catalog struct {
	tools  map[string]string // "server/name" -> definition JSON
	owners map[string]string // uri -> server
}

func (c catalog) Tool(server, name string) (json.RawMessage, bool) {
	d, ok := c.tools[server+"/"+name]
	return json.RawMessage(d), ok
}

func (c catalog) Resolve(name string) (string, string, bool) {
	s, n, ok := strings.Cut(name, "__")
	return s, n, ok && s != "" && n != ""
}

func (c catalog) Owner(uri string) string { return c.owners[uri] }

var testCatalog = catalog{
	tools: map[string]string{
		"fs/read_file":  `{"name":"read_file","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true,"destructiveHint":false}}`,
		"fs/write_file": `{"name":"write_file","inputSchema":{"type":"object"}}`,
	},
	owners: map[string]string{"test://fs/a": "fs", "test://secret/b": "secret", "test://fs/items/{id}": "fs"},
}

func call(id pipeline.Identity, method, server, name, params string) *pipeline.Call {
	return &pipeline.Call{Caller: id, Direction: pipeline.ToServer, Method: method, Server: server, Name: name, Params: json.RawMessage(params), Catalog: testCatalog}
}

func newInterceptor(t testing.TB, def Decision, rules ...Rule) *Interceptor {
	return New(Options{Policy: compile(t, def, rules...)})
}

func TestInterceptorRequest(t *testing.T) {
	ic := newInterceptor(t, Deny,
		Rule{ID: "contractors-read-only", When: `"contractors" in caller.groups && !annotations.readOnlyHint`, Decision: Deny, Reason: "contractors may only use read-only tools"},
		Rule{ID: "approve-writes", When: `tool == "write_file" && args.path.startsWith("/shared")`, Decision: Approve},
		Rule{ID: "team", When: `"dev" in caller.groups || "contractors" in caller.groups`, Decision: Allow},
	)
	tests := []struct {
		name string
		c    *pipeline.Call
		want pipeline.Verdict
	}{
		{"read-only tool for a contractor (annotations from the catalog)", call(carol, "tools/call", "fs", "read_file", `{"name":"fs__read_file","arguments":{}}`), pipeline.Allow},
		{"write for a contractor", call(carol, "tools/call", "fs", "write_file", `{"name":"fs__write_file","arguments":{"path":"/x"}}`), pipeline.DenyVerdict("access.contractors-read-only", "contractors may only use read-only tools")},
		{"write to /shared needs approval", call(alice, "tools/call", "fs", "write_file", `{"name":"fs__write_file","arguments":{"path":"/shared/a"}}`), pipeline.ApproveVerdict("access.approve-writes", "")},
		{"write elsewhere", call(alice, "tools/call", "fs", "write_file", `{"name":"fs__write_file","arguments":{"path":"/home/a"}}`), pipeline.Allow},
		{"outsider", call(pipeline.Identity{Subject: "eve"}, "tools/call", "fs", "read_file", `{"name":"fs__read_file"}`), pipeline.DenyVerdict(DefaultRule, "")},
		{"outsider's prompt", call(pipeline.Identity{Subject: "eve"}, "prompts/get", "fs", "greet", `{"name":"fs__greet"}`), pipeline.DenyVerdict(DefaultRule, "")},
		{"outsider's read", call(pipeline.Identity{Subject: "eve"}, "resources/read", "fs", "test://fs/a", `{"uri":"test://fs/a"}`), pipeline.DenyVerdict(DefaultRule, "")},
		{"outsider's completion", call(pipeline.Identity{Subject: "eve"}, "completion/complete", "fs", "greet", `{"ref":{"type":"ref/prompt","name":"fs__greet"}}`), pipeline.DenyVerdict(DefaultRule, "")},
		{"outsider's initialize is not governed", call(pipeline.Identity{Subject: "eve"}, "initialize", "", "", `{}`), pipeline.Allow},
		{"outsider's ping", call(pipeline.Identity{Subject: "eve"}, "ping", "", "", `{}`), pipeline.Allow},
		{"unrouted call", call(pipeline.Identity{Subject: "eve"}, "tools/call", "", "", `{"name":"nope"}`), pipeline.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ic.Request(context.Background(), tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if v.Deny != tt.want.Deny || v.Approve != tt.want.Approve || v.Rule != tt.want.Rule || (tt.want.Reason != "" && v.Reason != tt.want.Reason) {
				t.Errorf("Request = %+v, want %+v", v, tt.want)
			}
			if (v.Deny || v.Approve) && v.Reason == "" {
				t.Errorf("Request = %+v without a reason", v)
			}
		})
	}
	// Server-to-client requests are not the caller's.
	c := call(pipeline.Identity{Subject: "eve"}, "sampling/createMessage", "fs", "", `{}`)
	c.Direction = pipeline.ToClient
	if v, _ := ic.Request(context.Background(), c); v.Deny {
		t.Errorf("server-to-client request denied: %+v", v)
	}
}

func TestInterceptorAuditMark(t *testing.T) {
	ic := newInterceptor(t, Deny,
		Rule{ID: "ask", When: `tool == "write_file"`, Decision: Approve},
		Rule{ID: "ok", When: `true`, Decision: Allow},
	)
	c := call(alice, "tools/call", "fs", "read_file", `{}`)
	ic.Request(context.Background(), c)
	m, ok := c.Meta[MetaDecision].(interface {
		AuditDecision() (string, string, string)
	})
	if !ok {
		t.Fatalf("no audit decision for an allow by rule: %v", c.Meta)
	}
	if a, r, _ := m.AuditDecision(); a != "allow" || r != "access.ok" {
		t.Errorf("AuditDecision = %s %s", a, r)
	}

	c = call(alice, "tools/call", "fs", "write_file", `{}`)
	ic.Request(context.Background(), c)
	m = c.Meta[MetaDecision].(interface {
		AuditDecision() (string, string, string)
	})
	for _, tt := range []struct {
		approval *pipeline.Approval
		want     string
	}{
		{nil, "approval asked"},
		{&pipeline.Approval{Approved: true, How: "elicitation"}, "approved by the user (elicitation)"},
		{&pipeline.Approval{How: "declined"}, "not approved (declined)"},
		{&pipeline.Approval{How: "unavailable"}, "not approved (unavailable)"},
	} {
		if tt.approval != nil {
			c.Set(pipeline.MetaApproval, *tt.approval)
		}
		if a, r, reason := m.AuditDecision(); a != "approve" || r != "access.ask" || reason != tt.want {
			t.Errorf("AuditDecision after %+v = %s %s %q, want %q", tt.approval, a, r, reason, tt.want)
		}
	}
}

func names(t *testing.T, res json.RawMessage, field, key string) []string {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(res, &top); err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	json.Unmarshal(top[field], &items)
	var out []string
	for _, it := range items {
		out = append(out, it[key].(string))
	}
	return out
}

func TestInterceptorFiltersLists(t *testing.T) {
	ic := newInterceptor(t, Deny,
		Rule{ID: "contractors-read-only", When: `"contractors" in caller.groups && !annotations.readOnlyHint`, Decision: Deny},
		Rule{ID: "no-secret", When: `server == "secret"`, Decision: Deny},
		Rule{ID: "team", When: `"dev" in caller.groups || "contractors" in caller.groups`, Decision: Allow},
	)
	tools := `{"tools":[
		{"name":"fs__read_file","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},
		{"name":"fs__write_file","inputSchema":{"type":"object"}},
		{"name":"secret__dump","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},
		{"name":"unresolvable","inputSchema":{"type":"object"}}
	],"nextCursor":"abc","_meta":{"k":1}}`
	tests := []struct {
		name               string
		who                pipeline.Identity
		method, field, key string
		list               string
		want               []string
	}{
		{"dev sees all but secret", alice, "tools/list", "tools", "name", tools, []string{"fs__read_file", "fs__write_file"}},
		{"contractor sees read-only tools", carol, "tools/list", "tools", "name", tools, []string{"fs__read_file"}},
		{"outsider sees nothing", pipeline.Identity{Subject: "eve"}, "tools/list", "tools", "name", tools, nil},
		{"prompts", alice, "prompts/list", "prompts", "name", `{"prompts":[{"name":"fs__greet"},{"name":"secret__p"}]}`, []string{"fs__greet"}},
		{"resources", alice, "resources/list", "resources", "uri", `{"resources":[{"uri":"test://fs/a","name":"a"},{"uri":"test://secret/b","name":"b"},{"uri":"test://nobody/c","name":"c"}]}`, []string{"test://fs/a"}},
		{"templates", alice, "resources/templates/list", "resourceTemplates", "uriTemplate", `{"resourceTemplates":[{"uriTemplate":"test://fs/items/{id}","name":"i"}]}`, []string{"test://fs/items/{id}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call(tt.who, tt.method, "", "", `{}`)
			out, v, err := ic.Response(context.Background(), c, json.RawMessage(tt.list))
			if err != nil || v.Deny {
				t.Fatalf("Response = %v, %v", v, err)
			}
			if got := names(t, out, tt.field, tt.key); !slices.Equal(got, tt.want) {
				t.Errorf("%s for %s = %v, want %v", tt.method, tt.who.Subject, got, tt.want)
			}
			if tt.field == "tools" && !strings.Contains(string(out), `"nextCursor":"abc"`) {
				t.Errorf("filtering dropped other fields: %s", out)
			}
		})
	}
	// A list that needs no filtering comes back as the very same bytes.
	in := json.RawMessage(`{"tools":[{"name":"fs__read_file","inputSchema":{"type":"object"}}]}`)
	out, _, _ := ic.Response(context.Background(), call(alice, "tools/list", "", "", `{}`), in)
	if &out[0] != &in[0] {
		t.Error("an unfiltered list was re-encoded")
	}
	// Without a catalog the list cannot be attributed: fail closed.
	c := call(alice, "tools/list", "", "", `{}`)
	c.Catalog = nil
	if _, _, err := ic.Response(context.Background(), c, in); err == nil {
		t.Error("a list without a catalog was let through")
	}
	// Other results pass untouched.
	res := json.RawMessage(`{"content":[]}`)
	if out, _, err := ic.Response(context.Background(), call(alice, "tools/call", "fs", "read_file", `{}`), res); err != nil || string(out) != string(res) {
		t.Errorf("tools/call result = %s, %v", out, err)
	}
}

func TestAnnotationCache(t *testing.T) {
	var ac annotationCache
	a := ac.get("s", "t", json.RawMessage(`{"annotations":{"readOnlyHint":true}}`))
	b := ac.get("s", "t", json.RawMessage(`{"annotations":{"readOnlyHint":true}}`))
	if !a.ReadOnlyHint || a != b {
		t.Errorf("cached annotations = %+v, %+v", a, b)
	}
	// A changed definition (a rug pull flipping the hint) is re-read.
	if c := ac.get("s", "t", json.RawMessage(`{"annotations":{"readOnlyHint":false}}`)); c.ReadOnlyHint {
		t.Error("the cache served annotations of an older definition")
	}
}
