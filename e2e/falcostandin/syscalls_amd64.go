//go:build linux

package main

// openSyscalls are the x86-64 system calls that open a file, with the index of the argument that holds
// the flags (for openat2, the struct open_how that holds them).
var openSyscalls = map[int]struct {
	name     string
	flagsArg int
}{2: {"open", 1}, 85: {"creat", 1}, 257: {"openat", 2}, 437: {"openat2", 2}}
