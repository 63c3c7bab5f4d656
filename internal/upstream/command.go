package upstream

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"mcpwarden/internal/coalesce"
)

// commandTransport runs a stdio server, like go-sdk's CommandTransport,
// but reads its stdout through a [filterReader] (progress counting and the
// [RawPath]'s responses) and shares stdin with the raw path. Shutdown follows the
// spec: close stdin, wait, SIGTERM, wait, SIGKILL.
type commandTransport struct {
	cmd       *exec.Cmd
	terminate time.Duration
	progress  *ProgressCounter
	maxLine   int
	raw       *RawPath // set by Connect
}

func (t *commandTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	stdout, err := t.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := t.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	w := coalesce.New(stdin)
	t.raw = newRawPath(w)
	io := &mcp.IOTransport{
		Reader:        nopClose{&filterReader{r: stdout, progress: t.progress, raw: t.raw}},
		Writer:        &procStdin{cmd: t.cmd, stdin: stdin, w: w, terminate: t.terminate, raw: t.raw},
		MaxLineLength: t.maxLine,
	}
	return io.Connect(ctx)
}

// nopClose keeps stdout open until the process exits: the connection is
// closed by closing stdin.
type nopClose struct{ io.Reader }

func (nopClose) Close() error { return nil }

type procStdin struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	w         *coalesce.Writer // stdin, shared with the raw path
	terminate time.Duration
	raw       *RawPath
}

func (p *procStdin) Write(b []byte) (int, error) {
	p.raw.learnMeta(b)
	return p.w.Write(b)
}

func (p *procStdin) Close() error {
	if err := p.stdin.Close(); err != nil {
		return fmt.Errorf("closing stdin: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	wait := func() (error, bool) {
		t := time.NewTimer(p.terminate)
		defer t.Stop()
		select {
		case err := <-done:
			return err, true
		case <-t.C:
			return nil, false
		}
	}
	if err, ok := wait(); ok {
		return err
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		if err, ok := wait(); ok {
			return err
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return err
	}
	if err, ok := wait(); ok {
		return err
	}
	return fmt.Errorf("the server process does not exit")
}
