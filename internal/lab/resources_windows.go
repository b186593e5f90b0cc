package lab

import "golang.org/x/sys/windows"

// freeDisk is the space free for this user on dir's disk; false when dir cannot be seen.
func freeDisk(dir string) (int64, bool) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, false
	}
	var avail uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, nil, nil); err != nil {
		return 0, false
	}
	return int64(avail), true
}
