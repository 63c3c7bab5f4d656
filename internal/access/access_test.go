package access

import (
	"encoding/json"
	"strings"
	"testing"

	"mcpwarden/internal/pipeline"
)

func compile(t testing.TB, def Decision, rules ...Rule) *Policy {
	t.Helper()
	p, es := Compile(Config{Default: def, Rules: rules})
	if len(es) > 0 {
		t.Fatalf("Compile: %v", es)
	}
	return p
}

var (
	alice = pipeline.Identity{Subject: "alice", Method: "jwt", Groups: []string{"dev"}, Claims: map[string]any{"email": "alice@example.com", "tier": 3.0}}
	carol = pipeline.Identity{Subject: "carol", Method: "api_key", Groups: []string{"contractors"}}
	anon  = pipeline.Identity{}
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // "path: message fragment" or "path@line:col"
	}{
		{"no default with rules", Config{Rules: []Rule{{ID: "a", When: "true", Decision: Allow}}}, []string{"default: set default"}},
		{"syntax", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "caller.subject ==", Decision: Allow}}}, []string{"rules[0].when@1:18"}},
		{"undeclared", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "user == 'x'", Decision: Allow}}}, []string{"rules[0].when: undeclared reference to 'user'"}},
		{"unknown field", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "caller.subjet == 'x'", Decision: Allow}}}, []string{"rules[0].when@1:7"}},
		{"not bool", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "caller.subject", Decision: Allow}}}, []string{"rules[0].when: the condition must be true or false"}},
		{"dyn is not bool", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "args.x", Decision: Allow}}}, []string{"rules[0].when: the condition must be true or false"}},
		{"multi-line position", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "tool == 'x' &&\n  nope", Decision: Allow}}}, []string{"rules[0].when@2:3"}},
		{"empty when", Config{Default: Deny, Rules: []Rule{{ID: "a", Decision: Allow}}}, []string{"rules[0].when: every rule needs a condition"}},
		{"bad id", Config{Default: Deny, Rules: []Rule{{ID: "Bad ID", When: "true", Decision: Allow}}}, []string{"rules[0].id"}},
		{"duplicate id", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "true", Decision: Allow}, {ID: "a", When: "false", Decision: Deny}}}, []string{"rules[1].id: the id \"a\" is already used"}},
		{"no decision", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "true"}}}, []string{"rules[0].decision"}},
		{"every error at once", Config{Default: Deny, Rules: []Rule{{ID: "a", When: "x", Decision: Allow}, {ID: "b", When: "y", Decision: Allow}}}, []string{"rules[0].when", "rules[1].when"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, es := Compile(tt.cfg)
			if p != nil || len(es) == 0 {
				t.Fatalf("Compile succeeded, want errors %v", tt.want)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			for _, w := range tt.want {
				path, pos, hasPos := strings.Cut(w, "@")
				found := false
				for _, e := range es {
					if hasPos {
						if e.Path == path && pos == itoa(e.Line)+":"+itoa(e.Column) {
							found = true
						}
					} else if strings.HasPrefix(e.Error(), w) {
						found = true
					}
				}
				if !found {
					t.Errorf("Compile errors = %q (%+v), want one matching %q", got, es[0], w)
				}
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func tool(id pipeline.Identity, server, name, args string, ann Annotations) *Input {
	in := &Input{Caller: id, Server: server, Method: "tools/call", Kind: KindTool, Name: name, Annotations: ann}
	if args != "" {
		in.Args = json.RawMessage(args)
	}
	return in
}

func TestDecide(t *testing.T) {
	readOnly := DefaultAnnotations
	readOnly.ReadOnlyHint, readOnly.DestructiveHint = true, false
	p := compile(t, Deny,
		Rule{ID: "no-anonymous", When: "caller.anonymous", Decision: Deny, Reason: "sign in first"},
		Rule{ID: "contractors-read-only", When: `"contractors" in caller.groups && !annotations.readOnlyHint`, Decision: Deny, Reason: "contractors may only use read-only tools"},
		Rule{ID: "no-etc", When: `tool == "read_file" && has(args.path) && args.path.startsWith("/etc")`, Decision: Deny},
		Rule{ID: "approve-deletes", When: `tool.startsWith("delete_")`, Decision: Approve},
		Rule{ID: "big-jobs", When: `tool == "run" && args.n > 100`, Decision: Approve},
		Rule{ID: "email-domain", When: `has(caller.claims.email) && caller.claims.email.endsWith("@example.com")`, Decision: Allow},
		Rule{ID: "contractors", When: `"contractors" in caller.groups`, Decision: Allow},
		Rule{ID: "prompts", When: `kind == "prompt" && prompt == "greet" && args.name == "x"`, Decision: Allow},
		Rule{ID: "resources", When: `resource.startsWith("test://")`, Decision: Allow},
	)
	tests := []struct {
		name string
		in   *Input
		want Decision
		rule string
	}{
		{"anonymous denied", tool(anon, "fs", "read_file", `{}`, DefaultAnnotations), Deny, "access.no-anonymous"},
		{"contractor, destructive tool", tool(carol, "fs", "write_file", `{}`, DefaultAnnotations), Deny, "access.contractors-read-only"},
		{"contractor, read-only tool", tool(carol, "fs", "read_file", `{"path":"/home"}`, readOnly), Allow, "access.contractors"},
		{"argument rule", tool(alice, "fs", "read_file", `{"path":"/etc/passwd"}`, readOnly), Deny, "access.no-etc"},
		{"argument rule, other path", tool(alice, "fs", "read_file", `{"path":"/home/alice"}`, readOnly), Allow, "access.email-domain"},
		{"has() guards a missing argument", tool(alice, "fs", "read_file", `{}`, readOnly), Allow, "access.email-domain"},
		{"approve", tool(alice, "gh", "delete_repo", `{}`, DefaultAnnotations), Approve, "access.approve-deletes"},
		{"numeric argument, int vs double", tool(alice, "jobs", "run", `{"n": 101}`, DefaultAnnotations), Approve, "access.big-jobs"},
		{"numeric argument, small", tool(alice, "jobs", "run", `{"n": 5}`, DefaultAnnotations), Allow, "access.email-domain"},
		{"missing argument fails closed", tool(alice, "jobs", "run", `{}`, DefaultAnnotations), Deny, "access.big-jobs"},
		{"duplicate keys fail closed", tool(alice, "fs", "read_file", `{"path":"/home","path":"/etc/passwd"}`, readOnly), Deny, "access.no-etc"},
		{"nested duplicate keys fail closed", tool(alice, "fs", "read_file", `{"path":"/home","o":[{"a":1,"a":2}]}`, readOnly), Deny, "access.no-etc"},
		{"arguments not an object fail closed", tool(alice, "jobs", "run", `[1,2]`, DefaultAnnotations), Deny, "access.big-jobs"},
		{"default deny", tool(pipeline.Identity{Subject: "bob"}, "fs", "read_file", `{}`, readOnly), Deny, DefaultRule},
		{"prompt", &Input{Caller: pipeline.Identity{Subject: "bob"}, Server: "s", Method: "prompts/get", Kind: KindPrompt, Name: "greet", Args: json.RawMessage(`{"name":"x"}`)}, Allow, "access.prompts"},
		{"resource", &Input{Caller: pipeline.Identity{Subject: "bob"}, Server: "s", Method: "resources/read", Kind: KindResource, Name: "test://s/hello"}, Allow, "access.resources"},
		{"tool var empty for resources", &Input{Caller: pipeline.Identity{Subject: "bob"}, Server: "s", Method: "resources/read", Kind: KindResource, Name: "delete_x"}, Deny, DefaultRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := p.Decide(tt.in)
			if res.Decision != tt.want || res.Rule != tt.rule {
				t.Errorf("Decide = %s by %s (%v), want %s by %s", res.Decision, res.Rule, res.Err, tt.want, tt.rule)
			}
			if res.Decision != Allow && res.Reason == "" {
				t.Errorf("Decide = %+v has no reason", res)
			}
		})
	}
	if r := p.Decide(tool(carol, "fs", "write_file", `{}`, DefaultAnnotations)); r.Reason != "contractors may only use read-only tools" {
		t.Errorf("reason = %q, want the rule's own", r.Reason)
	}
	if r := p.Decide(tool(alice, "jobs", "run", `{}`, DefaultAnnotations)); r.Err == nil || !strings.Contains(r.Reason, "big-jobs") {
		t.Errorf("failing rule = %+v, want an error and a reason naming the rule", r)
	}
}

func TestDefaults(t *testing.T) {
	in := tool(alice, "fs", "read_file", `{}`, DefaultAnnotations)
	for _, d := range []Decision{Allow, Deny, Approve} {
		p := compile(t, d, Rule{ID: "never", When: "false", Decision: Allow})
		if r := p.Decide(in); r.Decision != d || r.Rule != DefaultRule || r.Index != -1 {
			t.Errorf("default %s: Decide = %+v", d, r)
		}
	}
	p := compile(t, "")
	if r := p.Decide(in); r.Decision != Allow {
		t.Errorf("empty policy: Decide = %+v, want allow", r)
	}
}

func TestVisible(t *testing.T) {
	p := compile(t, Deny,
		Rule{ID: "no-etc", When: `tool == "read_file" && args.path.startsWith("/etc")`, Decision: Deny},
		Rule{ID: "no-shell-for-carol", When: `caller.subject == "carol" && tool == "shell"`, Decision: Deny},
		Rule{ID: "deny-by-arg-then-nothing", When: `tool == "only_bad" && args.x == 1`, Decision: Deny},
		Rule{ID: "fs", When: `server == "fs"`, Decision: Allow},
		Rule{ID: "maybe-allow", When: `tool == "conditional" && args.mode == "safe"`, Decision: Allow},
		Rule{ID: "approve", When: `tool == "risky"`, Decision: Approve},
		Rule{ID: "items", When: `resource.startsWith("test://s/items/")`, Decision: Allow},
		Rule{ID: "broken", When: `tool == "broken" && caller.claims.nope == "x"`, Decision: Allow},
	)
	tests := []struct {
		name string
		in   *Input
		u    Unknowns
		want bool
	}{
		{"denied only for some arguments: listed", tool(alice, "fs", "read_file", "", DefaultAnnotations), Unknowns{Args: true}, true},
		{"denied for this caller: hidden", tool(carol, "sh", "shell", "", DefaultAnnotations), Unknowns{Args: true}, false},
		{"the same tool for another caller: default deny", tool(alice, "sh", "shell", "", DefaultAnnotations), Unknowns{Args: true}, false},
		{"allowed for some arguments: listed", tool(alice, "x", "conditional", "", DefaultAnnotations), Unknowns{Args: true}, true},
		{"possibly denied, else default deny: hidden", tool(alice, "x", "only_bad", "", DefaultAnnotations), Unknowns{Args: true}, false},
		{"approve: listed", tool(alice, "x", "risky", "", DefaultAnnotations), Unknowns{Args: true}, true},
		{"allowed server: listed", tool(alice, "fs", "write_file", "", DefaultAnnotations), Unknowns{Args: true}, true},
		{"template with matching prefix", &Input{Caller: alice, Server: "s", Method: "resources/read", Kind: KindResource, Name: "test://s/items/{id}"}, Unknowns{Args: true, Name: true}, true},
		{"evaluation error hides", tool(alice, "x", "broken", "", DefaultAnnotations), Unknowns{Args: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, res := p.Visible(tt.in, tt.u); got != tt.want {
				t.Errorf("Visible = %v (%+v), want %v", got, res, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	p := compile(t, Deny,
		Rule{ID: "a", When: `tool == "x"`, Decision: Allow},
		Rule{ID: "b", When: `caller.subject == "alice"`, Decision: Deny, Reason: "no"},
		Rule{ID: "c", When: `true`, Decision: Allow},
	)
	ex := p.Explain(tool(alice, "s", "y", `{}`, DefaultAnnotations))
	var outcomes []string
	for _, s := range ex.Steps {
		outcomes = append(outcomes, s.ID+"="+s.Outcome)
	}
	if got := strings.Join(outcomes, " "); got != "a=no match b=match c=not reached" {
		t.Errorf("Explain steps = %s", got)
	}
	if ex.Result.Rule != "access.b" || ex.Result.Decision != Deny || ex.Result.Reason != "no" {
		t.Errorf("Explain result = %+v", ex.Result)
	}
	if got := p.Decide(tool(alice, "s", "y", `{}`, DefaultAnnotations)); got.Rule != ex.Result.Rule {
		t.Errorf("Explain and Decide disagree: %s vs %s", ex.Result.Rule, got.Rule)
	}
}

func TestLint(t *testing.T) {
	p := compile(t, Deny,
		Rule{ID: "fine", When: `tool == "x"`, Decision: Allow},
		Rule{ID: "dead", When: `1 > 2`, Decision: Allow},
		Rule{ID: "dup", When: `tool == "x"`, Decision: Deny},
		Rule{ID: "everything", When: `true || caller.anonymous`, Decision: Allow},
		Rule{ID: "after", When: `tool == "y"`, Decision: Deny},
	)
	var got []string
	for _, l := range p.Lint() {
		got = append(got, l.ID+": "+l.Msg)
	}
	want := []string{
		"dead: never matches",
		"dup: unreachable: rule fine has the same condition",
		"everything: always matches",
		"after: unreachable: rule everything before it always matches",
		"default: never applies",
	}
	if len(got) != len(want) {
		t.Fatalf("Lint = %q, want %d findings", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("Lint[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if l := compile(t, Deny, Rule{ID: "a", When: `tool == "x"`, Decision: Allow}).Lint(); len(l) != 0 {
		t.Errorf("Lint of a sound policy = %v", l)
	}
}

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		def  string
		want Annotations
	}{
		{`{"name":"t"}`, DefaultAnnotations},
		{`{"name":"t","annotations":{"readOnlyHint":true}}`, Annotations{ReadOnlyHint: true, DestructiveHint: true, OpenWorldHint: true}},
		{`{"name":"t","annotations":{"destructiveHint":false,"openWorldHint":false,"idempotentHint":true,"title":"T"}}`, Annotations{IdempotentHint: true, Title: "T"}},
		{`{"name":"t","title":"Top","annotations":{"title":"Inner"}}`, Annotations{DestructiveHint: true, OpenWorldHint: true, Title: "Top"}},
		{`not json`, DefaultAnnotations},
	}
	for _, tt := range tests {
		if got := parseAnnotations(json.RawMessage(tt.def)); got != tt.want {
			t.Errorf("parseAnnotations(%s) = %+v, want %+v", tt.def, got, tt.want)
		}
	}
}
