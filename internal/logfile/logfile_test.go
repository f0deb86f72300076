package logfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReopenAfterRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.log")
	f, err := Open(p)
	require.NoError(t, err)
	_, err = f.Write([]byte("one\n"))
	require.NoError(t, err)
	require.NoError(t, os.Rename(p, p+".1"))
	_, err = f.Write([]byte("two\n")) // still the old file
	require.NoError(t, err)
	require.NoError(t, f.Reopen())
	_, err = f.Write([]byte("three\n"))
	require.NoError(t, err)
	old, _ := os.ReadFile(p + ".1")
	cur, _ := os.ReadFile(p)
	require.Equal(t, "one\ntwo\n", string(old))
	require.Equal(t, "three\n", string(cur))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), st.Mode().Perm())
}
