package audit

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestCanonicalCoversEveryField changes each field of a record in turn and
// checks that the hash changes: a field the hash missed could be altered
// without verify noticing.
func TestCanonicalCoversEveryField(t *testing.T) {
	base := testRecord(5)
	base.Decisions = []Decision{{Action: Deny, Rule: "r", Reason: "why", Control: "c"}}
	base.Seq, base.PrevHash = 5, ZeroHash
	want, _ := ComputeHash(nil, &base)

	rt := reflect.TypeOf(base)
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.Name == "Hash" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			r := base
			r.Decisions = append([]Decision(nil), base.Decisions...)
			v := reflect.ValueOf(&r).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x")
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Uint64:
				v.SetUint(v.Uint() + 1)
			case reflect.Int64:
				v.SetInt(v.Int() + 1)
			case reflect.Slice:
				r.Decisions[0].Reason += "x"
			case reflect.Struct: // time.Time
				r.Time = r.Time.Add(time.Nanosecond)
			default:
				t.Fatalf("field %s of kind %s not covered by this test", f.Name, v.Kind())
			}
			if got, _ := ComputeHash(nil, &r); got == want {
				t.Errorf("ComputeHash with %s changed = %s, the same as before", f.Name, got)
			}
		})
	}
}

// TestCanonicalUnambiguous checks that moving bytes between adjacent
// fields changes the hash (the length prefixes do their job).
func TestCanonicalUnambiguous(t *testing.T) {
	a := Record{Kind: KindRequest, Caller: "ab", Session: "c", Method: "m"}
	b := Record{Kind: KindRequest, Caller: "a", Session: "bc", Method: "m"}
	ha, _ := ComputeHash(nil, &a)
	hb, _ := ComputeHash(nil, &b)
	if ha == hb {
		t.Errorf("records differing only in a field boundary hash alike: %s", ha)
	}
	c := Record{Kind: KindDecision, Method: "m", Decisions: []Decision{{Action: Deny, Rule: "a"}, {Action: Deny}}}
	d := Record{Kind: KindDecision, Method: "m", Decisions: []Decision{{Action: Deny}, {Action: Deny, Rule: "a"}}}
	hc, _ := ComputeHash(nil, &c)
	hd, _ := ComputeHash(nil, &d)
	if hc == hd {
		t.Errorf("records differing in decision order hash alike: %s", hc)
	}
}

func TestTimeZoneDoesNotMatter(t *testing.T) {
	r := testRecord(1)
	h1, _ := ComputeHash(nil, &r)
	r.Time = r.Time.In(time.FixedZone("X", 3600))
	h2, _ := ComputeHash(nil, &r)
	if h1 != h2 {
		t.Errorf("the same instant in another zone hashes differently: %s vs %s", h1, h2)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []Action
		want Action
	}{
		{"none", nil, Allow},
		{"rewrite", []Action{Rewrite}, Rewrite},
		{"approve beats rewrite", []Action{Rewrite, Approve}, Approve},
		{"deny beats all", []Action{Approve, Deny, Rewrite}, Deny},
		{"allow", []Action{Allow}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ds []Decision
			for _, a := range tt.in {
				ds = append(ds, Decision{Action: a})
			}
			if got := Summarize(ds); got != tt.want {
				t.Errorf("Summarize(%v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Record)
		wantErr string
	}{
		{"valid", func(*Record) {}, ""},
		{"no kind", func(r *Record) { r.Kind = "" }, "record kind"},
		{"no method", func(r *Record) { r.Method = "" }, "no method"},
		{"no time", func(r *Record) { r.Time = time.Time{} }, "no time"},
		{"time before 1970", func(r *Record) { r.Time = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside"},
		{"time after 2261", func(r *Record) { r.Time = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside"},
		{"bad decision", func(r *Record) { r.Decision = "maybe" }, "decision"},
		{"bad step", func(r *Record) { r.Decisions = []Decision{{Action: "nope"}} }, "step"},
		{"summary disagrees", func(r *Record) { r.Decision, r.Decisions = Allow, []Decision{{Action: Deny}} }, "does not summarize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord(2)
			tt.mutate(&r)
			err := r.check()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("check() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeDoesNotTouchCallerSlice(t *testing.T) {
	ds := []Decision{{Action: Deny, Reason: "bad \xff byte"}}
	r := Record{Kind: KindDecision, Method: "m", Time: testTime, Args: "\xfe", Decisions: ds}
	normalize(&r)
	if ds[0].Reason != "bad \xff byte" {
		t.Errorf("normalize changed the caller's decisions: %q", ds[0].Reason)
	}
	if r.Decisions[0].Reason != "bad \uFFFD byte" || r.Args != "\uFFFD" {
		t.Errorf("normalize = %q, %q, want invalid bytes replaced", r.Decisions[0].Reason, r.Args)
	}
}
