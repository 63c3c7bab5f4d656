// Package deptest holds only tests: it checks that imports between the
// module's packages follow the layering in STYLE.md.
package deptest
