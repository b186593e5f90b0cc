//go:build !windows

package lab

import "syscall"

// freeDisk is the space free for an unprivileged user on dir's disk; false when dir cannot be seen.
func freeDisk(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
