//go:build linux

package lbclient

import (
	"os"
	"syscall"
)

// RedirectStderr points file descriptor 2 at path (opened for appending,
// created 0640), or at /dev/null when path is "". The pass modes call it
// first, because snmpd merges the program's stderr into its answer: even a
// Go runtime crash trace must not reach it.
func RedirectStderr(path string) error {
	if path == "" {
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	return syscall.Dup3(int(f.Fd()), 2, 0)
}
