package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// stub is a scripted interceptor.
type stub struct {
	name    string
	verdict Verdict
	err     error
	rewrite string // response rewrite: appended marker
	seen    *[]string
}

func (s *stub) Name() string { return s.name }

func (s *stub) Request(_ context.Context, c *Call) (Verdict, error) {
	*s.seen = append(*s.seen, "req:"+s.name)
	return s.verdict, s.err
}

func (s *stub) Response(_ context.Context, c *Call, res json.RawMessage) (json.RawMessage, Verdict, error) {
	*s.seen = append(*s.seen, "res:"+s.name)
	if s.rewrite != "" {
		return json.RawMessage(strings.TrimSuffix(string(res), "}") + `,"` + s.rewrite + `":1}`), Allow, nil
	}
	return res, Allow, nil
}

func TestChainRequest(t *testing.T) {
	tests := []struct {
		name     string
		verdicts []Verdict
		errs     []error
		wantSeen string
		wantRule string
		approval []string // rules asking for approval
		control  bool     // a control failed
	}{
		{name: "all allow", verdicts: []Verdict{Allow, Allow}, wantSeen: "req:a req:b"},
		{name: "first denial stops", verdicts: []Verdict{DenyVerdict("x.no", "no"), Allow}, wantSeen: "req:a", wantRule: "x.no"},
		{name: "approval does not stop", verdicts: []Verdict{ApproveVerdict("x.ask", "ask"), Allow}, wantSeen: "req:a req:b", approval: []string{"x.ask"}},
		{name: "denial after approval wins", verdicts: []Verdict{ApproveVerdict("x.ask", "ask"), DenyVerdict("x.no", "no")}, wantSeen: "req:a req:b", wantRule: "x.no"},
		{name: "two approvals collected", verdicts: []Verdict{ApproveVerdict("x.one", "1"), ApproveVerdict("x.two", "2")}, wantSeen: "req:a req:b", approval: []string{"x.one", "x.two"}},
		{name: "control error denies", verdicts: []Verdict{Allow, Allow}, errs: []error{errors.New("store down"), nil}, wantSeen: "req:a", wantRule: RuleControlError, control: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			a := &stub{name: "a", verdict: tt.verdicts[0], seen: &seen}
			b := &stub{name: "b", verdict: tt.verdicts[1], seen: &seen}
			if tt.errs != nil {
				a.err, b.err = tt.errs[0], tt.errs[1]
			}
			err := NewChain(a, b).Request(context.Background(), &Call{Method: "tools/call"})
			if got := strings.Join(seen, " "); got != tt.wantSeen {
				t.Errorf("interceptors run = %q, want %q", got, tt.wantSeen)
			}
			var need *ApprovalNeeded
			switch {
			case tt.wantRule != "":
				d, ok := AsDenial(err)
				if !ok || d.Rule != tt.wantRule {
					t.Fatalf("Request() = %v, want a denial by %s", err, tt.wantRule)
				}
				if tt.control && (d.Cause == nil || strings.Contains(d.Reason, "store down")) {
					t.Errorf("control failure %+v: the cause must be kept for the audit but not shown to the agent", d)
				}
			case tt.approval != nil:
				if !errors.As(err, &need) {
					t.Fatalf("Request() = %v, want ApprovalNeeded", err)
				}
				var rules []string
				for _, a := range need.Asks {
					rules = append(rules, a.Rule)
				}
				if strings.Join(rules, ",") != strings.Join(tt.approval, ",") {
					t.Errorf("approvals = %v, want %v", rules, tt.approval)
				}
				if d := need.Denial("declined"); d.Rule != tt.approval[0] || !strings.Contains(d.Reason, "declined") {
					t.Errorf("ApprovalNeeded.Denial = %+v", d)
				}
			default:
				if err != nil {
					t.Errorf("Request() = %v, want nil", err)
				}
			}
		})
	}
}

func TestChainResponseOrder(t *testing.T) {
	var seen []string
	a := &stub{name: "a", rewrite: "byA", seen: &seen}
	b := &stub{name: "b", rewrite: "byB", seen: &seen}
	out, err := NewChain(a, b).Response(context.Background(), &Call{}, json.RawMessage(`{"r":0}`))
	if err != nil {
		t.Fatal(err)
	}
	// Responses unwind in reverse: b rewrites first, a sees b's output.
	if got := strings.Join(seen, " "); got != "res:b res:a" {
		t.Errorf("response order = %q, want res:b res:a", got)
	}
	if string(out) != `{"r":0,"byB":1,"byA":1}` {
		t.Errorf("Response() = %s", out)
	}
}

func TestNilChainAllows(t *testing.T) {
	var ch *Chain
	if err := ch.Request(context.Background(), &Call{}); err != nil {
		t.Errorf("nil chain Request = %v", err)
	}
	res, err := ch.Response(context.Background(), &Call{}, json.RawMessage(`{}`))
	if err != nil || string(res) != `{}` {
		t.Errorf("nil chain Response = %s, %v", res, err)
	}
	if ch.Len() != 0 {
		t.Errorf("nil chain Len = %d", ch.Len())
	}
}

func BenchmarkChainRequest(b *testing.B) {
	var seen []string
	ics := make([]Interceptor, 8)
	for i := range ics {
		ics[i] = &stub{name: "x", seen: &seen}
	}
	ch := NewChain(ics...)
	c := &Call{Method: "tools/call"}
	b.ReportAllocs()
	for range b.N {
		seen = seen[:0]
		if err := ch.Request(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}
