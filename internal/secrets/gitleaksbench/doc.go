// Package gitleaksbench compares mcpwarden's secret detector and full
// detection engine with gitleaks' detector on the same realistic
// tool-output text, in one benchmark run. It is a separate module so that
// the main module never depends on gitleaks:
//
//	cd internal/secrets/gitleaksbench && go test -run=^$ -bench=. -benchtime=3s -cpu=1
package gitleaksbench
