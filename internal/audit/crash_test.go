package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashEnv, when set in the environment of this test binary, turns it into
// a writer that appends records until it is killed (see crashWriter).
const crashEnv = "MCPWARDEN_AUDIT_CRASH_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashWriter(spec)
		os.Exit(3) // unreachable unless writing failed
	}
	os.Exit(m.Run())
}

// crashWriter writes records from several goroutines into the sink named by
// spec ("sqlite|jsonl:policy:path") and prints "ack SEQ CALLID" after each
// write returns. It runs until killed.
func crashWriter(spec string) {
	kind, rest, _ := strings.Cut(spec, ":")
	policy, path, _ := strings.Cut(rest, ":")
	ctx := context.Background()
	var s interface {
		Append(context.Context, *Record) (uint64, error)
	}
	var err error
	if kind == "sqlite" {
		s, err = OpenSQLiteSink(ctx, path, SyncPolicy(policy), nil)
	} else {
		s, err = OpenJSONLSink(path, SyncPolicy(policy), nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	var mu sync.Mutex
	out := os.Stdout // unbuffered: a line is out as soon as it is printed
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r := testRecord(i)
				r.CallID = fmt.Sprintf("w%d-%d", g, i)
				r.Time = time.Now()
				seq, err := s.Append(ctx, &r)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d %s\n", seq, r.CallID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashLosesNoAcknowledgedRecord runs a writer in a child process,
// SIGKILLs it mid-stream, and checks that every record it saw acknowledged
// is in the log at the acknowledged seq, that the chain verifies, and that
// it continues when the log is reopened.
func TestCrashLosesNoAcknowledgedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, kind := range []string{"sqlite", "jsonl"} {
		for _, policy := range []SyncPolicy{SyncNormal, SyncFull} {
			t.Run(kind+"/"+string(policy), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "audit."+kind)
				acks := runAndKill(t, kind+":"+string(policy)+":"+path, 3000)

				// Reopen as the restarted gateway would (this also cuts a
				// torn JSONL line), then read everything back.
				ctx := context.Background()
				var sink interface {
					Sink
					Append(context.Context, *Record) (uint64, error)
				}
				var err error
				if kind == "sqlite" {
					if files := queueFiles(t, path); len(files) != 1 {
						t.Fatalf("queue files after the kill = %v, want the killed writer's", files)
					}
					sink, err = OpenSQLiteSink(ctx, path, policy, nil)
				} else {
					sink, err = OpenJSONLSink(path, policy, nil)
				}
				if err != nil {
					t.Fatalf("reopening after the crash: %v", err)
				}
				more := testRecord(1)
				more.CallID = "after-restart"
				seq, err := sink.Append(ctx, &more)
				if err != nil {
					t.Fatal(err)
				}
				sink.Close()
				if kind == "sqlite" {
					if files := queueFiles(t, path); len(files) != 0 {
						t.Errorf("queue files after recovery and a clean close = %v, want none", files)
					}
				}

				var src Source
				if kind == "sqlite" {
					src = openReader(t, path)
				} else {
					src = openJSONLReader(t, path)
				}
				head, err := Verify(ctx, src, Head{})
				if err != nil {
					t.Fatalf("Verify after the crash = %v", err)
				}
				if seq != 0 && head.Seq != seq {
					t.Errorf("head = %d, want the record appended after the restart (%d)", head.Seq, seq)
				}
				stored := map[string]uint64{}
				if _, err := src.Scan(ctx, Filter{}, func(r *Record) error { stored[r.CallID] = r.Seq; return nil }); err != nil {
					t.Fatal(err)
				}
				if stored["after-restart"] != head.Seq {
					t.Errorf("the record appended after the restart is at %d, want the head %d", stored["after-restart"], head.Seq)
				}
				for id, s := range acks {
					got, ok := stored[id]
					switch {
					case !ok:
						t.Errorf("acknowledged record %s is missing after the crash", id)
					case s != 0 && got != s:
						// The JSONL sink says the seq when it acknowledges; the
						// SQLite sink seals when it indexes, so says 0.
						t.Errorf("acknowledged record %s is at %d after the crash, acknowledged at %d", id, got, s)
					}
				}
				t.Logf("%d acknowledged before SIGKILL, %d stored", len(acks), len(stored)-1)
			})
		}
	}
}

// runAndKill starts the crash writer, kills it once it has acknowledged n
// records, and returns every acknowledgement it printed (call ID -> seq).
func runAndKill(t *testing.T, spec string, n int) map[string]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+spec)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := map[string]uint64{}
	seqs := map[uint64]string{}
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue // a line cut by the kill
		}
		seq, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		if prev, dup := seqs[seq]; dup && seq != 0 {
			t.Errorf("seq %d acknowledged for %s and %s", seq, prev, f[2])
		}
		seqs[seq] = f[2]
		acks[f[2]] = seq
		if !killed && len(acks) >= n {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("writer exited before it was killed (%v): %s", err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("writer ended with %v, want SIGKILL: %s", err, stderr.String())
	}
	return acks
}
