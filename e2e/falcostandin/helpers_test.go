//go:build linux

package main

import (
	"net"
	"runtime"
	"strconv"
)

func listenUnixgram(path string) (*net.UnixConn, error) {
	return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
}

func itoa(n int) string { return strconv.Itoa(n) }

func numCPU() int { return runtime.NumCPU() }
