package audit

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTestJSONL(t *testing.T, path string, policy SyncPolicy) *JSONLSink {
	t.Helper()
	s, err := OpenJSONLSink(path, policy, nil)
	if err != nil {
		t.Fatalf("OpenJSONLSink(%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openJSONLReader(t *testing.T, path string) *JSONLReader {
	t.Helper()
	r, err := OpenJSONL(path)
	if err != nil {
		t.Fatalf("OpenJSONL(%s) = %v", path, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func writeJSONL(t *testing.T, path string, n int) {
	t.Helper()
	s := openTestJSONL(t, path, SyncNormal)
	for i := 0; i < n; i++ {
		r := testRecord(i)
		if err := s.Write(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestJSONLChainAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeJSONL(t, path, 4)
	writeJSONL(t, path, 3)
	head, err := Verify(context.Background(), openJSONLReader(t, path), Head{})
	if err != nil || head.Seq != 7 {
		t.Errorf("Verify = %v, %v, want 7 records", head, err)
	}
}

func TestJSONLExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	openTestJSONL(t, path, SyncNormal)
	if _, err := OpenJSONLSink(path, SyncNormal, nil); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second OpenJSONLSink = %v, want it refused", err)
	}
}

// TestJSONLTornTail simulates a crash in the middle of a write: the torn
// line is cut off on open and the chain continues from the last complete
// record.
func TestJSONLTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeJSONL(t, path, 3)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":4,"time":"2025-`)
	f.Close()
	// A reader ignores the line being written.
	if head, err := Verify(context.Background(), openJSONLReader(t, path), Head{}); err != nil || head.Seq != 3 {
		t.Errorf("Verify with a torn tail = %v, %v, want 3 records", head, err)
	}
	writeJSONL(t, path, 2)
	head, err := Verify(context.Background(), openJSONLReader(t, path), Head{})
	if err != nil || head.Seq != 5 {
		t.Errorf("Verify after recovery = %v, %v, want 5 records", head, err)
	}
}

func TestJSONLUnreadableTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	writeJSONL(t, path, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage\n")
	f.Close()
	if _, err := OpenJSONLSink(path, SyncNormal, nil); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Errorf("OpenJSONLSink(garbage tail) = %v, want a refusal", err)
	}
}

func TestLastLine(t *testing.T) {
	long := strings.Repeat("x", 150<<10)
	tests := []struct {
		name      string
		content   string
		want      string
		wantStart int64
	}{
		{"empty", "", "", 0},
		{"one", "a\n", "a\n", 0},
		{"two", "a\nbb\n", "bb\n", 2},
		{"torn", "a\nbb\ncc", "bb\n", 2},
		{"only torn", "abc", "", 0},
		{"long last", "a\n" + long + "\n", long + "\n", 2},
		{"long torn", "a\nb\n" + long, "b\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			os.WriteFile(path, []byte(tt.content), 0o600)
			f, _ := os.Open(path)
			defer f.Close()
			got, start, err := lastLine(f, int64(len(tt.content)))
			if err != nil || string(got) != tt.want || start != tt.wantStart {
				t.Errorf("lastLine(%.20q) = %.20q, %d, %v, want %.20q, %d", tt.content, got, start, err, tt.want, tt.wantStart)
			}
		})
	}
}

func TestJSONLTamper(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(lines [][]byte) [][]byte
		wantSeq  uint64
		wantLine int
		want     string
	}{
		{"edit", func(l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte("alice"), []byte("bobby"), 1)
			return l
		}, 4, 4, "changed"},
		{"delete", func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, 3, 3, "missing"},
		{"swap", func(l [][]byte) [][]byte { l[5], l[6] = l[6], l[5]; return l }, 6, 6, "missing"},
		{"duplicate", func(l [][]byte) [][]byte { return append(l[:4:4], l[3:]...) }, 4, 5, "out of place"},
		{"garbage", func(l [][]byte) [][]byte { l[2] = []byte("{not json"); return l }, 3, 3, "unreadable"},
		{"case-folded key", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`"caller"`), []byte(`"CALLER"`), 1)
			return l
		}, 2, 2, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			writeJSONL(t, path, 9)
			data, _ := os.ReadFile(path)
			lines := bytes.SplitAfter(data, []byte("\n"))
			lines = lines[:len(lines)-1]
			for i := range lines {
				lines[i] = bytes.TrimSuffix(lines[i], []byte("\n"))
			}
			lines = tt.edit(lines)
			os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600)
			_, err := Verify(context.Background(), openJSONLReader(t, path), Head{})
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %v, want a *ChainError", err)
			}
			if ce.Seq != tt.wantSeq || ce.Line != tt.wantLine || !strings.Contains(ce.Reason, tt.want) {
				t.Errorf("Verify = %v, want record %d (line %d) ...%s...", ce, tt.wantSeq, tt.wantLine, tt.want)
			}
		})
	}
}

func TestOpenJSONLMissing(t *testing.T) {
	if _, err := OpenJSONL(filepath.Join(t.TempDir(), "none.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenJSONL(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestDecodeRecordStrict(t *testing.T) {
	good := `{"seq":1,"time":"2025-06-01T12:00:00Z","kind":"request","call_id":"c","method":"m","prev_hash":"p","hash":"h"}`
	if _, err := DecodeRecord([]byte(good)); err != nil {
		t.Fatalf("DecodeRecord(good) = %v", err)
	}
	tests := []struct {
		name, line, want string
	}{
		{"unknown member", strings.Replace(good, `"method"`, `"extra":1,"method"`, 1), "unknown member"},
		{"repeated member", strings.Replace(good, `"method":"m"`, `"method":"m","method":"n"`, 1), "repeats"},
		{"case folded", strings.Replace(good, `"method"`, `"Method"`, 1), "unknown member"},
		{"null", strings.Replace(good, `"method":"m"`, `"method":null`, 1), "want a string"},
		{"missing", strings.Replace(good, `"hash":"h"`, `"args":""`, 1), `missing member "hash"`},
		{"negative seq", strings.Replace(good, `"seq":1`, `"seq":-1`, 1), "whole number"},
		{"float seq", strings.Replace(good, `"seq":1`, `"seq":1.0`, 1), "whole number"},
		{"bad time", strings.Replace(good, `2025-06-01T12:00:00Z`, `yesterday`, 1), "time"},
		{"trailing", good + ` {}`, "trailing"},
		{"array", `[]`, "want an object"},
		{"bad decision", strings.Replace(good, `"method":"m"`, `"method":"m","decisions":[{"rule":"x"}]`, 1), `missing member "action"`},
		{"decision extra", strings.Replace(good, `"method":"m"`, `"method":"m","decisions":[{"action":"deny","x":1}]`, 1), "unknown member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRecord([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeRecord(%s) = %v, want an error containing %q", tt.line, err, tt.want)
			}
		})
	}
}
