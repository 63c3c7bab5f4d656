package report

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// Progress shows, while a scan runs, which servers are starting and how
// each one ended. It draws one status line that it rewrites in place, so it
// belongs on a terminal only: a disabled Progress (and a nil one) writes
// nothing, and the report on stdout is never mixed with it.
//
// Its methods may be called from many goroutines at once.
type Progress struct {
	w     io.Writer
	p     palette
	now   func() time.Time
	width int

	mu      sync.Mutex
	started map[string]time.Time
	active  []string // in start order
	total   int
	done    int
	failed  int
	frame   int
	drawn   bool
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

// ProgressOptions configures [NewProgress]. The zero value is a disabled
// Progress.
type ProgressOptions struct {
	Enabled bool // draw at all; decide with [IsTerminal]
	Color   bool
	Total   int              // servers expected, 0 if unknown
	Now     func() time.Time // nil means time.Now
	// Interval between spinner redraws; 0 means 120ms, negative disables
	// the timer so only events redraw (tests).
	Interval time.Duration
	// Width of the terminal in columns; 0 asks the terminal, then 80.
	Width int
}

// NewProgress returns a Progress writing to w. Call Close when the scan
// ends, before printing the report.
func NewProgress(w io.Writer, o ProgressOptions) *Progress {
	if !o.Enabled {
		return nil
	}
	p := &Progress{w: w, p: palette{o.Color}, now: o.Now, width: o.Width, total: o.Total, started: make(map[string]time.Time)}
	if p.now == nil {
		p.now = time.Now
	}
	if p.width <= 0 {
		p.width = 80
		if f, ok := w.(interface{ Fd() uintptr }); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
				p.width = cols
			}
		}
	}
	interval := o.Interval
	if interval == 0 {
		interval = 120 * time.Millisecond
	}
	if interval > 0 {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.tick(interval)
	}
	return p
}

// StderrProgress is the progress display for a command: on stderr when
// stderr is a terminal, disabled otherwise. mode decides colour as for the
// report.
func StderrProgress(mode ColorMode, total int) *Progress {
	return NewProgress(os.Stderr, ProgressOptions{
		Enabled: IsTerminal(os.Stderr),
		Color:   mode.Enabled(os.Stderr, nil),
		Total:   total,
	})
}

func (p *Progress) tick(d time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if len(p.active) > 0 {
				p.frame++
				p.redraw()
			}
			p.mu.Unlock()
		}
	}
}

// Start notes that a server is being launched or connected to.
func (p *Progress) Start(server string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if _, dup := p.started[server]; !dup {
		p.active = append(p.active, server)
	}
	p.started[server] = p.now()
	p.redraw()
}

// Done notes how a server ended: status with a short note, such as
// "12 tools" for a scanned server or the reason it was not scanned.
func (p *Progress) Done(server string, status Status, note string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	took := ""
	if t, ok := p.started[server]; ok {
		took = " " + p.p.dim("("+p.now().Sub(t).Round(100*time.Millisecond).String()+")")
		delete(p.started, server)
		p.active = slices.DeleteFunc(p.active, func(s string) bool { return s == server })
	}
	p.done++
	mark, label := p.p.green("✓"), string(status)
	if !status.Reviewed() {
		p.failed++
		mark, label = p.p.red("✗"), p.p.red("NOT SCANNED")
	}
	line := fmt.Sprintf("%s %s  %s", mark, p.p.bold(p.p.untrusted(server, 40)), label)
	if note != "" {
		line += p.p.dim(" · ") + p.p.untrusted(note, p.width)
	}
	p.clear()
	fmt.Fprintf(p.w, "%s%s\n", clipDisplay(line, p.width-displayWidth(took)), took)
	p.redraw()
}

// Close stops the spinner and erases the status line. Later calls do
// nothing.
func (p *Progress) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.clear()
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
	}
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// redraw rewrites the status line; p.mu is held.
func (p *Progress) redraw() {
	if len(p.active) == 0 {
		p.clear()
		return
	}
	count := fmt.Sprintf("%d done", p.done)
	if p.total > 0 {
		count = fmt.Sprintf("%d/%d done", p.done, p.total)
	}
	if p.failed > 0 {
		count += ", " + p.p.red(fmt.Sprintf("%d not scanned", p.failed))
	}
	names := make([]string, len(p.active))
	for i, s := range p.active {
		names[i] = p.p.untrusted(s, 30)
	}
	line := fmt.Sprintf("%s scanning · %s · waiting for %s", p.p.cyan(spinner[p.frame%len(spinner)]), count, strings.Join(names, ", "))
	fmt.Fprintf(p.w, "\r\x1b[K%s", clipDisplay(line, p.width-1))
	p.drawn = true
}

// clear erases the status line if one is drawn; p.mu is held.
func (p *Progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// clipDisplay cuts s to n visible columns, keeping escape sequences whole
// and resetting attributes after a cut.
func clipDisplay(s string, n int) string {
	if displayWidth(s) <= n {
		return s
	}
	var b strings.Builder
	cols := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			b.WriteString(s[i : i+j+1])
			i += j + 1
			continue
		}
		if cols == n-1 {
			b.WriteString("…")
			if strings.IndexByte(s, 0x1b) >= 0 {
				b.WriteString("\x1b[0m")
			}
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
		cols++
	}
	return b.String()
}
