// Package atomicfile replaces a file's content all at once: a reader sees
// the old content or the new one, never a part, and after Write returns
// the new content survives a crash (the file and its directory are
// fsynced).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path's content with data, mode perm: a temporary file in
// the same directory (.<name>.lbd-<random>) is written, fsynced and
// renamed over path (rename(2) is atomic within a file system), then the
// directory is fsynced. On an error the temporary file is removed and
// path is unchanged.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteChecked(path, data, perm, nil)
}

// WriteChecked is Write that calls check with the temporary file's path
// once it is complete and before it replaces path; when check fails the
// temporary file is removed, path is unchanged and check's error is
// returned (a *CheckError). nil check: Write.
func WriteChecked(path string, data []byte, perm os.FileMode, check func(tmp string) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".lbd-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		if cerr := check(tmp); cerr != nil {
			err = &CheckError{Err: cerr}
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CheckError is the error of WriteChecked's check.
type CheckError struct{ Err error }

func (e *CheckError) Error() string { return e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// WriteState is Write for a state file: name in dir, which is created
// (mode 0750) if missing, the file mode 0640 (lbd's state_dir files).
func WriteState(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return Write(filepath.Join(dir, name), data, 0o640)
}
