//go:build unix

package repo

import (
	"errors"
	"syscall"
)

// processAlive tells whether a process with this pid exists on this host.
func processAlive(pid int) aliveness {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		return aliveYes
	case errors.Is(err, syscall.ESRCH):
		return aliveNo
	default:
		return aliveUnknown
	}
}
