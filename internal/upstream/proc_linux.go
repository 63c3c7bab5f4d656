package upstream

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcAttr ties the server's life to the gateway's: if mcpwarden dies,
// the kernel kills the server instead of leaving it running unsupervised.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
