//go:build !windows

package docker

import (
	"errors"
	"syscall"
)

// ownSession starts dockerd in a session of its own: a Ctrl-C to ckslab must not stop it.
func ownSession() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// terminate sends SIGTERM; a process already gone is no error.
func terminate(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func kill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
