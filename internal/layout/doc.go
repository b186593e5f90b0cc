// Package layout holds no code: its test keeps the repository's import rules (see layout_test.go), so that a
// change that breaks one fails `make test` naming the file and the import.
package layout
