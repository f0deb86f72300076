package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	require.NoError(t, Write(p, []byte("one"), 0o600))
	require.NoError(t, Write(p, []byte("two"), 0o640))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "two", string(b))
	st, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")

	assert.Error(t, Write(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600), "a missing directory is an error")
}

func TestWriteState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, WriteState(dir, "f", []byte("x\n")), "the directory is created")
	st, err := os.Stat(filepath.Join(dir, "f"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())
	dst, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, dst.IsDir())
}

func TestWriteCheckedRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	require.NoError(t, Write(path, []byte("old\n"), 0o644))
	var seen string
	err := WriteChecked(path, []byte("new\n"), 0o644, func(tmp string) error {
		seen = tmp
		b, err := os.ReadFile(tmp)
		require.NoError(t, err)
		assert.Equal(t, "new\n", string(b), "the check sees the complete new content")
		return os.ErrInvalid
	})
	var ce *CheckError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, os.ErrInvalid)
	assert.Regexp(t, `/\.out\.lbd-\d+$`, seen)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(b), "a refused file replaces nothing")
	left, err := filepath.Glob(filepath.Join(dir, ".out.lbd-*"))
	require.NoError(t, err)
	assert.Empty(t, left)
}
