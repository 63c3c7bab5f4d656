//go:build !linux

package sandbox

const attackEnv = "MCPWARDEN_TEST_ATTACK"

func attack(string, []string) int { return 2 }
