package toolguard

import (
	"os"
	"time"
)

func osChtimes(p string, a, m time.Time) error { return os.Chtimes(p, a, m) }
func osWriteFile(p string, b []byte) error     { return os.WriteFile(p, b, 0o644) }
