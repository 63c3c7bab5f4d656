package audit

import (
	"errors"
	"strings"
	"testing"
)

// sealed returns n records chained from seq 1.
func sealed(n int) []Record {
	var s sealer
	var h Head
	out := make([]Record, n)
	for i := range out {
		out[i] = testRecord(i)
		normalize(&out[i])
		h = s.seal(h, &out[i])
	}
	return out
}

func TestVerifier(t *testing.T) {
	tests := []struct {
		name    string
		edit    func([]Record) []Record
		anchor  func([]Record) Head
		wantSeq uint64 // 0: the chain verifies
		want    string
	}{
		{name: "intact", edit: func(rs []Record) []Record { return rs }},
		{name: "empty", edit: func([]Record) []Record { return nil }},
		{name: "changed", edit: func(rs []Record) []Record { rs[3].Args = `{"path":"/etc/shadow"}`; return rs }, wantSeq: 4, want: "changed"},
		{name: "changed hash too", edit: func(rs []Record) []Record {
			rs[3].Caller = "mallory"
			rs[3].Hash, _ = ComputeHash(nil, &rs[3])
			return rs
		}, wantSeq: 5, want: "does not follow record 4"},
		{name: "removed", edit: func(rs []Record) []Record { return append(rs[:4:4], rs[5:]...) }, wantSeq: 5, want: "missing"},
		{name: "first removed", edit: func(rs []Record) []Record { return rs[1:] }, wantSeq: 1, want: "records 1 to 1 were removed"},
		{name: "swapped", edit: func(rs []Record) []Record { rs[2], rs[3] = rs[3], rs[2]; return rs }, wantSeq: 3, want: "missing"},
		{name: "duplicated", edit: func(rs []Record) []Record {
			return append(append(rs[:5:5], rs[4]), rs[5:]...)
		}, wantSeq: 5, want: "out of place"},
		{name: "inserted", edit: func(rs []Record) []Record {
			x := testRecord(99)
			x.Seq, x.PrevHash = 3, rs[1].Hash
			x.Hash, _ = ComputeHash(nil, &x)
			return append(append(rs[:3:3], x), rs[3:]...)
		}, wantSeq: 3, want: "out of place"},
		{name: "removed and renumbered", edit: func(rs []Record) []Record {
			rs = append(rs[:5:5], rs[6:]...)
			for i := 5; i < len(rs); i++ {
				rs[i].Seq--
			}
			return rs
		}, wantSeq: 6, want: "changed"},
		{name: "forged genesis", edit: func(rs []Record) []Record {
			rs[0].PrevHash = rs[1].Hash
			rs[0].Hash, _ = ComputeHash(nil, &rs[0])
			return rs
		}, wantSeq: 1, want: "does not start a chain"},
		{name: "anchor ok", edit: func(rs []Record) []Record { return rs }, anchor: func(rs []Record) Head { return Head{Seq: 8, Hash: rs[7].Hash} }},
		{name: "cut at end", edit: func(rs []Record) []Record { return rs[:7] }, anchor: func(rs []Record) Head { return Head{Seq: 8, Hash: rs[7].Hash} }, wantSeq: 8, want: "removed from the end"},
		{name: "rewritten before anchor", edit: func(rs []Record) []Record {
			var s sealer
			var h Head
			for i := range rs {
				if i == 2 {
					rs[i].Caller = "mallory"
				}
				h = s.seal(h, &rs[i])
			}
			return rs
		}, anchor: func(rs []Record) Head { return Head{Seq: 8, Hash: rs[7].Hash} }, wantSeq: 8, want: "does not match the anchor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := sealed(10)
			v := &Verifier{}
			if tt.anchor != nil {
				v.Anchor = tt.anchor(orig)
			}
			rs := tt.edit(sealed(10))
			var err error
			for i := range rs {
				if err = v.Add(&rs[i], 0); err != nil {
					break
				}
			}
			head, err := v.Finish()
			if tt.wantSeq == 0 {
				if err != nil {
					t.Fatalf("Verifier = %v, want the chain to verify", err)
				}
				if len(rs) > 0 && head.Seq != rs[len(rs)-1].Seq {
					t.Errorf("head = %v, want seq %d", head, rs[len(rs)-1].Seq)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verifier = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq || !strings.Contains(ce.Reason, tt.want) {
				t.Errorf("Verifier = record %d: %s, want record %d: ...%s...", ce.Seq, ce.Reason, tt.wantSeq, tt.want)
			}
		})
	}
}

func TestVerifierStaysBroken(t *testing.T) {
	rs := sealed(3)
	rs[0].Args = "x"
	v := &Verifier{}
	first := v.Add(&rs[0], 0)
	if first == nil {
		t.Fatal("Add(changed record) = nil, want an error")
	}
	if err := v.Add(&rs[1], 0); err != first {
		t.Errorf("Add after a failure = %v, want the first failure %v", err, first)
	}
}
