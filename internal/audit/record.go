package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind tells what a [Record] describes.
type Kind string

const (
	// KindRequest is written when a request reaches the audit interceptor,
	// before any later control or the upstream sees it. It carries the
	// arguments as they arrived.
	KindRequest Kind = "request"
	// KindDecision is written when the call has ended. It carries the
	// decision (with every rule that shaped it), the result, the latency and
	// any upstream error.
	KindDecision Kind = "decision"
)

// Action is what the gateway did with a call, or what one control did to it.
type Action string

const (
	// Allow lets the call through unchanged.
	Allow Action = "allow"
	// Deny stops the call.
	Deny Action = "deny"
	// Rewrite lets the call through with its arguments or result changed
	// (redacted, sanitized, spotlighted, ...).
	Rewrite Action = "rewrite"
	// Approve lets the call through after a human approved it.
	Approve Action = "approve"
)

// rank orders actions for the summary decision of a record: a call that was
// denied anywhere is a denial; one that needed a human is an approval even
// if it was also rewritten.
func (a Action) rank() int {
	switch a {
	case Deny:
		return 4
	case Approve:
		return 3
	case Rewrite:
		return 2
	case Allow:
		return 1
	}
	return 0
}

// Valid reports whether a is one of the four known actions.
func (a Action) Valid() bool { return a.rank() > 0 }

// Decision is one control's contribution to the outcome of a call.
type Decision struct {
	Action  Action `json:"action"`
	Rule    string `json:"rule,omitempty"`    // stable rule ID, e.g. "args.path_root"
	Reason  string `json:"reason,omitempty"`  // the text the agent was shown, or the control's note
	Control string `json:"control,omitempty"` // the interceptor that decided, e.g. "authz"
}

// Record is one audit log entry. The zero value is not a valid record: it
// needs at least a Kind, a Method and a Time.
//
// Seq, PrevHash and Hash are set by the chained sink that stores the record
// (each sink keeps its own chain); callers leave them empty.
type Record struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"` // when the record was made, UTC
	Kind Kind      `json:"kind"`

	// CallID ties the request record of a call to its decision record. It
	// is unique across gateway restarts.
	CallID string `json:"call_id"`

	Caller     string `json:"caller,omitempty"`      // authenticated subject; "" for anonymous
	AuthMethod string `json:"auth_method,omitempty"` // "api_key", "jwt", "stdio", ...
	Session    string `json:"session,omitempty"`     // downstream MCP session ID
	Server     string `json:"server,omitempty"`      // configured upstream server name
	Name       string `json:"name,omitempty"`        // tool or prompt name, or resource URI
	Method     string `json:"method"`                // JSON-RPC method, e.g. "tools/call"
	Direction  string `json:"direction,omitempty"`   // "to_server" or "to_client"
	RequestID  string `json:"request_id,omitempty"`  // JSON-RPC request ID, as text
	Revision   string `json:"revision,omitempty"`    // MCP protocol revision the caller speaks

	// Args and Result are the request params and the result as JSON text,
	// with secrets redacted and cut to the configured size. A cut value is
	// no longer valid JSON; the Truncated flags say so.
	Args            string `json:"args,omitempty"`
	ArgsTruncated   bool   `json:"args_truncated,omitempty"`
	Result          string `json:"result,omitempty"`
	ResultTruncated bool   `json:"result_truncated,omitempty"`

	// Decision summarizes Decisions (deny > approve > rewrite > allow). It is
	// empty on request records.
	Decision  Action     `json:"decision,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`

	Latency time.Duration `json:"latency_ns,omitempty"` // from receipt to outcome
	Error   string        `json:"error,omitempty"`      // upstream or transport error, or why a control failed (redacted)

	PrevHash string `json:"prev_hash"` // hex SHA-256 of the previous record; all zeros for seq 1
	Hash     string `json:"hash"`      // hex SHA-256 of this record's canonical encoding
}

// canonicalTag starts every canonical encoding. It versions the encoding:
// a future format must use a new tag so old chains still verify.
const canonicalTag = "mcpwarden.audit.v1\x00"

// ZeroHash is the PrevHash of the first record of a chain.
var ZeroHash = strings.Repeat("0", sha256.Size*2)

// AppendCanonical appends the canonical encoding of r to dst. Every field
// but Hash is covered, in declaration order: integers as (zig-zag) varints,
// strings and the previous hash as a uvarint length followed by the bytes,
// booleans as one byte, the decision list as a count followed by its four
// strings per entry. Time is covered as Unix nanoseconds, so the zone it is
// printed in does not matter. The encoding is unambiguous: two different
// records never encode alike.
func AppendCanonical(dst []byte, r *Record) []byte {
	dst = append(dst, canonicalTag...)
	dst = binary.AppendUvarint(dst, r.Seq)
	dst = binary.AppendVarint(dst, r.Time.UnixNano())
	for _, s := range [...]string{string(r.Kind), r.CallID, r.Caller, r.AuthMethod, r.Session, r.Server,
		r.Name, r.Method, r.Direction, r.RequestID, r.Revision, r.Args} {
		dst = appendString(dst, s)
	}
	dst = appendBool(dst, r.ArgsTruncated)
	dst = appendString(dst, r.Result)
	dst = appendBool(dst, r.ResultTruncated)
	dst = appendString(dst, string(r.Decision))
	dst = binary.AppendUvarint(dst, uint64(len(r.Decisions)))
	for _, d := range r.Decisions {
		dst = appendString(dst, string(d.Action))
		dst = appendString(dst, d.Rule)
		dst = appendString(dst, d.Reason)
		dst = appendString(dst, d.Control)
	}
	dst = binary.AppendVarint(dst, int64(r.Latency))
	dst = appendString(dst, r.Error)
	dst = appendString(dst, r.PrevHash)
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// ComputeHash returns the hex SHA-256 of r's canonical encoding. buf is
// scratch space that may be reused between calls; the grown buffer is
// returned for the next call.
func ComputeHash(buf []byte, r *Record) (string, []byte) {
	buf = AppendCanonical(buf[:0], r)
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), buf
}

// normalize makes r storable in every sink without changing what it hashes
// to on the way back: times become UTC with no monotonic reading (SQLite
// keeps nanoseconds, JSON keeps RFC 3339 with nanoseconds) and strings
// become valid UTF-8, because JSON would otherwise replace bad bytes and
// break the chain on reading.
func normalize(r *Record) {
	r.Time = r.Time.Round(0).UTC()
	for _, p := range [...]*string{&r.CallID, &r.Caller, &r.AuthMethod, &r.Session, &r.Server, &r.Name,
		&r.Method, &r.Direction, &r.RequestID, &r.Revision, &r.Args, &r.Result, &r.Error} {
		if !utf8.ValidString(*p) {
			*p = strings.ToValidUTF8(*p, "\uFFFD")
		}
	}
	// Kind and the actions were checked to be known values.
	cloned := false
	for i, d := range r.Decisions {
		if decisionValid(d) {
			continue
		}
		if !cloned {
			// The caller may still hold the slice: fix a copy.
			r.Decisions = append([]Decision(nil), r.Decisions...)
			cloned = true
		}
		d := &r.Decisions[i]
		for _, p := range [...]*string{&d.Rule, &d.Reason, &d.Control} {
			if !utf8.ValidString(*p) {
				*p = strings.ToValidUTF8(*p, "\uFFFD")
			}
		}
	}
}

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func decisionValid(d Decision) bool {
	return utf8.ValidString(d.Rule) && utf8.ValidString(d.Reason) && utf8.ValidString(d.Control)
}

// check reports why r cannot be stored, or nil.
func (r *Record) check() error {
	switch {
	case r.Kind != KindRequest && r.Kind != KindDecision:
		return fmt.Errorf("record kind %q is not %q or %q", r.Kind, KindRequest, KindDecision)
	case r.Method == "":
		return fmt.Errorf("record has no method")
	case r.Time.IsZero():
		return fmt.Errorf("record has no time")
	case r.Time.Before(minTime) || !r.Time.Before(maxTime):
		// Unix nanoseconds, which the hash covers, only span these years.
		return fmt.Errorf("record time %v is outside 1970 to 2261", r.Time)
	case r.Decision != "" && !r.Decision.Valid():
		return fmt.Errorf("record decision %q is not allow, deny, rewrite or approve", r.Decision)
	}
	for _, d := range r.Decisions {
		if !d.Action.Valid() {
			return fmt.Errorf("record decision step %q is not allow, deny, rewrite or approve", d.Action)
		}
	}
	// Queries for denials rely on the summary: keep it honest.
	if len(r.Decisions) > 0 && r.Decision != Summarize(r.Decisions) {
		return fmt.Errorf("record decision %q does not summarize its steps (%q)", r.Decision, Summarize(r.Decisions))
	}
	return nil
}

// Summarize returns the action that stands for ds as a whole: [Deny] if
// any step denied, else [Approve], else [Rewrite], else [Allow].
func Summarize(ds []Decision) Action {
	best := Allow
	for _, d := range ds {
		if d.Action.rank() > best.rank() {
			best = d.Action
		}
	}
	return best
}
