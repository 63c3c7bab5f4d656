package cli

import (
	"os"
	"testing"

	"mcpwarden/internal/testbin"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m)) }
