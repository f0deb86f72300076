//go:build !linux

package lbclient

import "os"

// RedirectStderr points os.Stderr at path (appending) or at /dev/null; on
// this platform file descriptor 2 itself is left alone.
func RedirectStderr(path string) error {
	if path == "" {
		path = os.DevNull
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	os.Stderr = f
	return nil
}
