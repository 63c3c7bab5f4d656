package audit

import (
	"context"
	"errors"
	"fmt"
)

// Head is where a chain stands: the seq and hash of its last record. The
// zero Head is an empty chain.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (h Head) String() string {
	if h.Seq == 0 {
		return "empty"
	}
	return fmt.Sprintf("%d:%s", h.Seq, h.Hash)
}

// hash returns the PrevHash of the record after h.
func (h Head) hash() string {
	if h.Seq == 0 {
		return ZeroHash
	}
	return h.Hash
}

// sealer links records into a chain. It is not safe for concurrent use:
// each chained sink seals from its single commit goroutine.
type sealer struct {
	buf []byte
}

// seal sets r's Seq, PrevHash and Hash to follow h and returns the new head.
func (s *sealer) seal(h Head, r *Record) Head {
	r.Seq = h.Seq + 1
	r.PrevHash = h.hash()
	r.Hash, s.buf = ComputeHash(s.buf, r)
	return Head{Seq: r.Seq, Hash: r.Hash}
}

// ChainError reports the first record at which a chain does not verify.
type ChainError struct {
	Seq    uint64 // the first bad (or missing) record; 0 when no seq applies
	Line   int    // for JSONL logs, the line it was read from; 0 otherwise
	Reason string
}

func (e *ChainError) Error() string {
	if e.Seq == 0 {
		return e.Reason // not tied to a position in the chain
	}
	if e.Line > 0 {
		return fmt.Sprintf("record %d (line %d): %s", e.Seq, e.Line, e.Reason)
	}
	return fmt.Sprintf("record %d: %s", e.Seq, e.Reason)
}

// Verifier checks records, fed in storage order, against the chain rules:
// seqs run 1, 2, 3, ... with no gap or repeat; each record hashes to its
// Hash; each PrevHash is the Hash of the record before. The first failure
// is final. The zero Verifier expects a chain starting at seq 1.
type Verifier struct {
	// Anchor, if set, is a head recorded elsewhere earlier (printed by a
	// previous verify, kept in a ticket or a log). The chain must reach
	// Anchor.Seq and have Anchor.Hash there: this catches records cut off
	// the end, which a hash chain alone cannot.
	Anchor Head

	head      Head
	anchorSaw bool
	s         sealer
	err       *ChainError
}

// Add checks the next record. line is its JSONL line number (0 if none).
// It returns a *[ChainError] once the chain is broken.
func (v *Verifier) Add(r *Record, line int) error {
	if v.err != nil {
		return v.err
	}
	want := v.head.Seq + 1
	fail := func(seq uint64, format string, args ...any) error {
		v.err = &ChainError{Seq: seq, Line: line, Reason: fmt.Sprintf(format, args...)}
		return v.err
	}
	switch {
	case r.Seq > want && want == 1:
		return fail(want, "missing: the log starts at record %d, so records 1 to %d were removed", r.Seq, r.Seq-1)
	case r.Seq > want:
		return fail(want, "missing: record %d follows record %d, so a record was removed or moved", r.Seq, v.head.Seq)
	case r.Seq < want:
		return fail(r.Seq, "out of place: it appears after record %d, so records were reordered, duplicated or inserted", v.head.Seq)
	}
	var got string
	got, v.s.buf = ComputeHash(v.s.buf, r)
	if got != r.Hash {
		return fail(r.Seq, "changed: its content does not match its hash")
	}
	if r.PrevHash != v.head.hash() {
		if want == 1 {
			return fail(r.Seq, "does not start a chain: its prev_hash is not the zero hash, so earlier records were removed")
		}
		return fail(r.Seq, "does not follow record %d: its prev_hash is not that record's hash, so one of the two was replaced", v.head.Seq)
	}
	v.head = Head{Seq: r.Seq, Hash: r.Hash}
	if v.Anchor.Seq != 0 && r.Seq == v.Anchor.Seq {
		v.anchorSaw = true
		if r.Hash != v.Anchor.Hash {
			return fail(r.Seq, "does not match the anchor: its hash is %s, the anchor says %s, so the log was rewritten up to here", r.Hash, v.Anchor.Hash)
		}
	}
	return nil
}

// Malformed records that the record read at line could not be decoded:
// the chain is broken at the next expected seq.
func (v *Verifier) Malformed(line int, err error) error {
	if v.err == nil {
		v.err = &ChainError{Seq: v.head.Seq + 1, Line: line, Reason: fmt.Sprintf("unreadable: %v", err)}
	}
	return v.err
}

// Finish returns the verified head, or the *[ChainError] that broke the
// chain. It checks the anchor, if one was given, was reached.
func (v *Verifier) Finish() (Head, error) {
	if v.err != nil {
		return v.head, v.err
	}
	if v.Anchor.Seq != 0 && !v.anchorSaw {
		v.err = &ChainError{Seq: v.head.Seq + 1, Reason: fmt.Sprintf("missing: the log ends at record %d but the anchor names record %d, so records were removed from the end", v.head.Seq, v.Anchor.Seq)}
		return v.head, v.err
	}
	return v.head, nil
}

// Verify reads every record of src in storage order and checks the chain
// (see [Verifier]). A broken chain is reported as a *[ChainError] naming the
// first bad record; any other error means the log could not be read. anchor
// may be the zero Head.
func Verify(ctx context.Context, src Source, anchor Head) (Head, error) {
	v := &Verifier{Anchor: anchor}
	pos, _ := src.(interface{ position() int })
	_, err := src.Scan(ctx, Filter{}, func(r *Record) error {
		line := 0
		if pos != nil {
			line = pos.position()
		}
		return v.Add(r, line)
	})
	var de *DecodeError
	switch {
	case errors.As(err, &de):
		return v.head, v.Malformed(de.Line, de.Err)
	case err != nil:
		var ce *ChainError
		if errors.As(err, &ce) {
			return v.head, ce
		}
		return v.head, fmt.Errorf("reading the audit log: %w", err)
	}
	return v.Finish()
}
