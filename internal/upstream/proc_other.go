//go:build !linux

package upstream

import (
	"os"
	"os/exec"
	"runtime"
)

func setProcAttr(*exec.Cmd) {}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode()&0o111 != 0
}
