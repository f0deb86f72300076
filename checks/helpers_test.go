package checks

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
)

// tree builds a fixture root in a temp dir: path → content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	return testenv.WriteTree(t, files)
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return p
}

// build makes a check from the registry, failing the test on error.
func build(t *testing.T, typ, data string) Check {
	t.Helper()
	c, err := New(Spec{Type: typ, Data: data})
	require.NoError(t, err, "New(%s %q)", typ, data)
	return c
}

// run runs c with a bounded context.
func run(t *testing.T, c Check, env Env) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Run(ctx, env)
}

// want asserts the outcome of a result.
func want(t *testing.T, r Result, ok, hard bool, code int, reasonPart string) {
	t.Helper()
	assert.Equal(t, [3]any{ok, hard, code}, [3]any{r.OK, r.Hard, r.Code}, "OK, Hard, Code of %q", r.Reason)
	if reasonPart != "" {
		assert.Contains(t, r.Reason, reasonPart)
	}
}
