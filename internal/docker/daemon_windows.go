package docker

import (
	"os"
	"syscall"
)

// On Windows the engine is normally Docker Desktop's. A dockerd ckslab starts there gets a process group of its
// own and is stopped with TerminateProcess: Windows has no SIGTERM, so it gets no chance to stop its containers.

func ownSession() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

func terminate(pid int) error { return kill(pid) }

func kill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil // gone already
	}
	return p.Kill()
}
