package access

import "testing"

// TestAnonymousCaller checks that rules over the caller's groups and
// claims work for a caller who has none (nil slices and maps).
func TestAnonymousCaller(t *testing.T) {
	p := compile(t, Deny,
		Rule{ID: "claims", When: `has(caller.claims.email) && caller.claims.email == "x"`, Decision: Allow},
		Rule{ID: "groups", When: `"dev" in caller.groups || size(caller.groups) > 0`, Decision: Allow},
		Rule{ID: "anon", When: `caller.anonymous && caller.subject == "" && caller.method == ""`, Decision: Approve},
	)
	res := p.Decide(tool(anon, "fs", "read_file", `{}`, DefaultAnnotations))
	if res.Err != nil || res.Decision != Approve || res.Rule != "access.anon" {
		t.Errorf("Decide(anonymous) = %+v, want the anon rule without errors", res)
	}
}
