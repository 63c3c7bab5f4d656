package cli

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mcpwarden/internal/audit"
	"mcpwarden/internal/pipeline"
	"mcpwarden/internal/testbin"
)

// writeAuditLog records calls through the audit interceptor, as the
// gateway does: alice reads files (the 3rd is denied), bob sends mail.
func writeAuditLog(t *testing.T, cfg audit.Config, calls int) {
	t.Helper()
	ctx := context.Background()
	l, err := audit.New(ctx, audit.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	deny := denyThird{}
	ch := pipeline.NewChain(l, &deny)
	for i := 0; i < calls; i++ {
		c := &pipeline.Call{
			ID: "1", Session: "s1", Revision: "2025-11-25", Direction: pipeline.ToServer, Method: "tools/call",
			Caller: pipeline.Identity{Subject: "alice", Method: "jwt"}, Server: "fs", Name: "read_file",
			Params: json.RawMessage(`{"name":"read_file","arguments":{"path":"/srv/notes.txt"}}`), Start: time.Now(),
		}
		if i%2 == 1 {
			c.Caller.Subject, c.Server, c.Name = "bob", "mail", "send_email"
			c.Params = json.RawMessage(`{"name":"send_email","arguments":{"to":"x@example.com","api_key":"sk-live-abcdef"}}`)
		}
		if err := ch.Request(ctx, c); err != nil {
			ch.Finish(ctx, c, nil, err)
			continue
		}
		// A raw ESC, as a hostile server might send: the text output must
		// not pass it to the terminal.
		ch.Finish(ctx, c, json.RawMessage("{\"content\":[{\"type\":\"text\",\"text\":\"ok \x1b[31mred\"}]}"), nil)
	}
}

// denyThird denies every third call it sees.
type denyThird struct{ n int }

func (d *denyThird) Name() string { return "args" }
func (d *denyThird) Request(context.Context, *pipeline.Call) (pipeline.Verdict, error) {
	d.n++
	if d.n%3 == 0 {
		return pipeline.DenyVerdict("args.path_root", "path escapes the allowed roots"), nil
	}
	return pipeline.Allow, nil
}

func sqliteConfig(path string) audit.Config {
	return audit.Config{Sinks: audit.SinksConfig{SQLite: path}}
}

func TestAuditVerifyE2E(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "audit.db")
	jl := filepath.Join(dir, "audit.jsonl")
	writeAuditLog(t, audit.Config{Sinks: audit.SinksConfig{SQLite: db, JSONL: jl}}, 6)
	for _, args := range [][]string{{"--db", db}, {"--jsonl", jl}} {
		r := runBin(t, "", nil, append([]string{"audit", "verify"}, args...)...)
		// 6 calls, 2 denied by a control after audit: every call has a
		// request and a decision record.
		if r.code != 0 || !strings.Contains(r.stdout, "ok: ") || !strings.Contains(r.stdout, "12 records verified") {
			t.Errorf("audit verify %v = %d, %q, %q; want ok with 12 records", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runBin(t, "", nil, "audit", "verify", "--db", db, "--format", "json")
	var out struct {
		OK      bool       `json:"ok"`
		Records uint64     `json:"records"`
		Head    audit.Head `json:"head"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !out.OK || out.Records != 12 || out.Head.Seq != 12 {
		t.Errorf("audit verify --format json = %q (%v)", r.stdout, err)
	}
	anchor := out.Head.String()
	if r := runBin(t, "", nil, "audit", "verify", "--db", db, "--head", anchor); r.code != 0 {
		t.Errorf("audit verify --head %s = %d, %q", anchor, r.code, r.stderr)
	}
	// Cut the last record: only the anchor can tell.
	execSQL(t, db, "DELETE FROM records WHERE seq = 12")
	if r := runBin(t, "", nil, "audit", "verify", "--db", db); r.code != 0 {
		t.Errorf("audit verify after cutting the tail, no anchor = %d, want 0 (a chain alone cannot see it)", r.code)
	}
	r = runBin(t, "", nil, "audit", "verify", "--db", db, "--head", anchor)
	if r.code != 1 || !strings.Contains(r.stderr, "record 12") || !strings.Contains(r.stderr, "removed from the end") {
		t.Errorf("audit verify --head after cutting the tail = %d, %q; want exit 1 naming record 12", r.code, r.stderr)
	}
}

func execSQL(t *testing.T, db string, stmts ...string) {
	t.Helper()
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAuditVerifyTamperE2E(t *testing.T) {
	tests := []struct {
		name string
		sql  []string
		want string
	}{
		{"update", []string{`UPDATE records SET caller = 'mallory' WHERE seq = 5`}, "record 5: changed"},
		{"update result", []string{`UPDATE records SET result = '' WHERE seq = 8`}, "record 8: changed"},
		{"delete", []string{`DELETE FROM records WHERE seq = 3`}, "record 3: missing"},
		{"swap", []string{
			`UPDATE records SET seq = -1 WHERE seq = 4`,
			`UPDATE records SET seq = 4 WHERE seq = 6`,
			`UPDATE records SET seq = 6 WHERE seq = -1`,
		}, "record 4: changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "audit.db")
			writeAuditLog(t, sqliteConfig(db), 6)
			execSQL(t, db, tt.sql...)
			r := runBin(t, "", nil, "audit", "verify", "--db", db)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("audit verify after %s = %d, stderr %q; want exit 1 and %q", tt.name, r.code, r.stderr, tt.want)
			}
			r = runBin(t, "", nil, "audit", "verify", "--db", db, "--format", "json")
			if r.code != 1 || !strings.Contains(r.stdout, `"ok":false`) {
				t.Errorf("audit verify --format json after %s = %d, %q", tt.name, r.code, r.stdout)
			}
		})
	}
}

func TestAuditVerifyJSONLTamperE2E(t *testing.T) {
	jl := filepath.Join(t.TempDir(), "audit.jsonl")
	writeAuditLog(t, audit.Config{Sinks: audit.SinksConfig{SQLite: audit.SQLiteOff, JSONL: jl}}, 4)
	data, _ := os.ReadFile(jl)
	lines := strings.SplitAfter(string(data), "\n")
	lines[2], lines[3] = lines[3], lines[2]
	os.WriteFile(jl, []byte(strings.Join(lines, "")), 0o600)
	r := runBin(t, "", nil, "audit", "verify", "--jsonl", jl)
	if r.code != 1 || !strings.Contains(r.stderr, "record 3 (line 3): missing") {
		t.Errorf("audit verify of swapped lines = %d, %q", r.code, r.stderr)
	}
}

func TestAuditQueryE2E(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	writeAuditLog(t, sqliteConfig(db), 6)
	tests := []struct {
		name      string
		args      []string
		wantLines int
		want      []string
		notWant   []string
	}{
		{"all", nil, 12, []string{"alice(jwt)", "fs/read_file"}, nil},
		{"denials", []string{"--decision", "deny"}, 2, []string{"decision deny", "[deny args.path_root by args: \"path escapes the allowed roots\"]"}, nil},
		{"caller term", []string{"caller=bob", "kind=request"}, 3, []string{"bob(jwt)", "mail/send_email"}, []string{"sk-live-abcdef", "alice"}},
		{"tool and since", []string{"--tool", "read_file", "--since", "1h", "--kind", "decision"}, 3, []string{"read_file"}, nil},
		{"until past", []string{"--until", "2000-01-01"}, 0, nil, nil},
		{"limit", []string{"--limit", "2"}, 2, nil, nil},
		{"rule", []string{"--rule", "args.path_root"}, 2, nil, nil},
		{"no terminal escapes", []string{"--kind", "decision", "--decision", "allow"}, 4, []string{`\x1b[31mred`}, []string{"\x1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBin(t, "", nil, append([]string{"audit", "query", "--db", db}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("audit query %v = %d, %q", tt.args, r.code, r.stderr)
			}
			if n := strings.Count(r.stdout, "\n"); n != tt.wantLines {
				t.Errorf("audit query %v printed %d lines, want %d:\n%s", tt.args, n, tt.wantLines, r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("audit query %v output lacks %q:\n%s", tt.args, w, r.stdout)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(r.stdout, w) {
					t.Errorf("audit query %v output holds %q:\n%s", tt.args, w, r.stdout)
				}
			}
		})
	}
	r := runBin(t, "", nil, "audit", "query", "--db", db, "--decision", "deny", "--format", "json")
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	n := 0
	for sc.Scan() {
		rec, err := audit.DecodeRecord(sc.Bytes())
		if err != nil || rec.Decision != audit.Deny || rec.Decisions[0].Rule != "args.path_root" {
			t.Errorf("audit query --format json line %q = %+v, %v", sc.Text(), rec, err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("audit query --format json printed %d records, want 2", n)
	}
}

func TestAuditUsageE2E(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	writeAuditLog(t, sqliteConfig(db), 1)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"audit", "verify", "--db", db, "--jsonl", "x"}, 2, "give one"},
		{[]string{"audit", "query", "--db", db, "--decision", "maybe"}, 2, `--decision: "maybe" is not allow`},
		{[]string{"audit", "query", "--db", db, "--since", "soon"}, 2, "--since"},
		{[]string{"audit", "query", "--db", db, "caller=a", "--caller", "b"}, 2, "give one"},
		{[]string{"audit", "query", "--db", db, "who=x"}, 2, "unknown filter"},
		{[]string{"audit", "query", "--db", db, "--format", "xml"}, 2, "want text or json"},
		{[]string{"audit", "verify", "--db", db, "--head", "nope"}, 2, "SEQ:HASH"},
		{[]string{"audit", "verify", "extra"}, 2, "unknown command"},
		{[]string{"audit", "verify", "--db", filepath.Join(t.TempDir(), "none.db")}, 1, "nothing recorded yet"},
		{[]string{"audit", "tail", "--jsonl", filepath.Join(t.TempDir(), "none.jsonl")}, 1, "no audit log"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			r := runBin(t, "", nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("mcpwarden %v = %d, %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

// TestAuditDefaultPathE2E checks the commands and the package agree on the
// default database, under the XDG state directory.
func TestAuditDefaultPathE2E(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	want := filepath.Join(state, "mcpwarden", "audit.db")
	if got := audit.DefaultPath(); got != want {
		t.Fatalf("DefaultPath() = %q, want %q", got, want)
	}
	writeAuditLog(t, audit.Config{}, 2)
	r := runBin(t, "", []string{"XDG_STATE_HOME=" + state}, "audit", "verify")
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("audit verify with the default path = %d, %q, %q", r.code, r.stdout, r.stderr)
	}
}

func TestAuditTailE2E(t *testing.T) {
	db := filepath.Join(t.TempDir(), "audit.db")
	writeAuditLog(t, sqliteConfig(db), 6)
	r := runBin(t, "", nil, "audit", "tail", "--db", db, "-n", "3")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, "#12 ") {
		t.Errorf("audit tail -n 3 = %d, %q, %q", r.code, r.stdout, r.stderr)
	}

	cmd := exec.Command(testbin.Path(t), "audit", "tail", "-f", "--db", db, "-n", "1", "--caller", "alice", "--kind", "decision")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The newest matching record comes first, which also tells that tail
	// has read the head and is following.
	select {
	case l := <-lines:
		if !strings.Contains(l, "#10 ") {
			t.Errorf("audit tail -f -n 1 first printed %q, want alice's last decision record #10", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("audit tail -f printed nothing; stderr %q", stderr.String())
	}
	writeAuditLog(t, sqliteConfig(db), 2) // one alice call, one bob call
	select {
	case l := <-lines:
		if !strings.Contains(l, "decision") || !strings.Contains(l, "alice") || !strings.Contains(l, "#14 ") {
			t.Errorf("audit tail -f printed %q, want alice's new decision record #14", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("audit tail -f printed nothing for a new record; stderr %q", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("audit tail -f after SIGINT = %v, want exit 0; stderr %q", err, stderr.String())
	}
	for l := range lines {
		t.Errorf("audit tail -f printed an unexpected line %q", l)
	}
}
