package upstream

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

const (
	maxStderrLine = 2048
	stderrTail    = 8
)

// stderrLog sends a server's stderr to the log, one record per line, and
// keeps the last few lines for error messages. Nothing a server writes to
// stderr reaches the protocol stream.
type stderrLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	buf  []byte
	last []string
}

func newStderrLog(log *slog.Logger) *stderrLog { return &stderrLog{log: log} }

func (s *stderrLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			if len(s.buf) > maxStderrLine {
				s.emit(s.buf[:maxStderrLine])
				s.buf = s.buf[:0]
			}
			break
		}
		s.emit(s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	return len(p), nil
}

func (s *stderrLog) emit(line []byte) {
	text := strings.TrimRight(string(line), "\r")
	if len(text) > maxStderrLine {
		text = text[:maxStderrLine]
	}
	if text == "" {
		return
	}
	s.log.Info("server stderr", "line", text)
	s.last = append(s.last, text)
	if len(s.last) > stderrTail {
		s.last = s.last[1:]
	}
}

func (s *stderrLog) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.emit(s.buf)
		s.buf = s.buf[:0]
	}
	return strings.Join(s.last, " | ")
}
