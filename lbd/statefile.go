package lbd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/lbd-project/lbd/internal/atomicfile"
)

// readState hands the file name in dir (state_dir) to read. No dir or no
// file is not an error (nothing to load); a file that cannot be read or
// that read rejects is logged as a warning and otherwise ignored: state
// files only spare work at a start.
func (d *Daemon) readState(dir, name, what string, read func(io.Reader) error) {
	if dir == "" {
		return
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		err = read(f)
		f.Close()
	}
	if err != nil {
		d.log.WithField("file", path).Warn(what+" not loaded: ", err)
	}
}

// writeState replaces the file name in dir (state_dir) with what write
// produces (atomicfile.WriteState); a failure is logged as a warning.
func (d *Daemon) writeState(dir, name, what string, write func(io.Writer) error) {
	if dir == "" {
		return
	}
	var b bytes.Buffer
	err := write(&b)
	if err == nil {
		err = atomicfile.WriteState(dir, name, b.Bytes())
	}
	f := d.log.WithField("file", filepath.Join(dir, name))
	if err != nil {
		f.Warn(what+" not saved: ", err)
		return
	}
	f.Debug(what + " saved")
}
