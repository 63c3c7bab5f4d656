package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mcpwarden/internal/testbin"
)

// TestAuditSurvivesKill makes calls through the gateway binary, kills it
// with SIGKILL (no shutdown at all), and starts it again on the same
// database: the killed process's queue file is taken over and removed,
// every call it answered has its request and decision records, and the
// chain verifies.
func TestAuditSurvivesKill(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	cfg := fmt.Sprintf("version: 1\nservers:\n%spolicy:\n  audit:\n    sinks: {sqlite: %q}\n", testServer("go"), db)

	p := startGateway(t, cfg)
	p.waitHealthy(t)
	cs := goClient(t, p.addr, "2025-11-25")
	const calls = 20
	for i := range calls {
		if txt, isErr := callText(t, cs, "go__echo", map[string]any{"text": fmt.Sprint("before-kill-", i)}); isErr {
			t.Fatalf("call %d: %s", i, txt)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	cs.Close()
	left, err := os.ReadDir(db + ".queue")
	if err != nil || len(left) != 1 {
		t.Fatalf("queue files after the kill = %v, %v; want the killed process's", left, err)
	}

	// verify says that records it cannot see are waiting.
	if out, _ := exec.Command(testbin.Path(t), "audit", "verify", "--db", db).CombinedOutput(); !strings.Contains(string(out), "a queue file of a stopped gateway holds records not yet in the database") {
		t.Errorf("audit verify after the kill = %s, want a note about the queued records", out)
	}

	// The restarted gateway takes the queue over; a clean stop then
	// removes its own.
	q := startGateway(t, cfg)
	q.waitHealthy(t)
	q.stop(t)
	if rest, err := os.ReadDir(db + ".queue"); err != nil || len(rest) != 0 {
		t.Errorf("queue files after a restart and a clean stop = %v, %v; want none", rest, err)
	}

	out := pollAudit(t, func(string) bool { return true }, "audit", "query", "--db", db, "--tool", "echo", "--format", "json")
	type rec struct {
		Kind   string `json:"kind"`
		CallID string `json:"call_id"`
		Args   string `json:"args"`
	}
	var recs []rec
	ours := map[string]bool{} // call IDs of the calls made before the kill
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r rec
		if json.Unmarshal([]byte(line), &r) == nil {
			recs = append(recs, r)
			if r.Kind == "request" && strings.Contains(r.Args, "before-kill-") {
				ours[r.CallID] = true
			}
		}
	}
	kinds := map[string]int{}
	for _, r := range recs {
		if ours[r.CallID] {
			kinds[r.Kind]++
		}
	}
	if kinds["request"] != calls || kinds["decision"] != calls {
		t.Errorf("records of the %d answered calls after the kill = %v, want a request and a decision each\n%s", calls, kinds, out)
	}
	if v := pollAudit(t, func(string) bool { return true }, "audit", "verify", "--db", db); !strings.HasPrefix(v, "ok: ") {
		t.Errorf("audit verify = %s", v)
	}
}
