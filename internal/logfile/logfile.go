// Package logfile is the daemons' -log-file: a file appended to and
// reopened on SIGHUP, so that logrotate can move it away.
package logfile

import (
	"fmt"
	"os"
	"sync"
)

// File is a log file (the daemons' -log-file): appended to, mode 0640,
// reopened by Reopen (on SIGHUP, after a rotation). Safe for concurrent use.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Open opens the log file at path.
func Open(path string) (*File, error) {
	l := &File{path: path}
	return l, l.Reopen()
}

// Reopen opens the file again (appending, mode 0640) and closes the old one.
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Write appends p.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
