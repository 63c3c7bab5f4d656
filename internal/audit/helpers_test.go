package audit

import (
	"fmt"
	"os"
	"time"
)

// testTime is the base time of generated records.
var testTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testRecord returns a realistic record, varied by i.
func testRecord(i int) Record {
	r := Record{
		Time:       testTime.Add(time.Duration(i) * time.Millisecond),
		Kind:       KindRequest,
		CallID:     fmt.Sprintf("c-%d", i),
		Caller:     []string{"alice", "bob", "carol"}[i%3],
		AuthMethod: "jwt",
		Session:    fmt.Sprintf("s-%d", i%7),
		Server:     []string{"fs", "web", "mail"}[i%3],
		Name:       []string{"read_file", "fetch", "send_email"}[i%3],
		Method:     "tools/call",
		Direction:  "to_server",
		RequestID:  fmt.Sprint(i),
		Revision:   "2025-11-25",
		Args:       fmt.Sprintf(`{"path":"/home/alice/project/file-%d.txt"}`, i),
	}
	if i%2 == 1 {
		r.Kind = KindDecision
		r.Decision = Allow
		r.Result = `{"content":[{"type":"text","text":"hello"}]}`
		r.Latency = time.Duration(i) * time.Microsecond
		if i%5 == 0 {
			r.Decision = Deny
			r.Decisions = []Decision{{Action: Deny, Rule: "args.path_root", Reason: "path escapes the allowed roots", Control: "args"}}
			r.Result = ""
		}
	}
	return r
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
