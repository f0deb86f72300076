package checks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tree builds a fixture root in a temp dir: path → content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// build makes a check from the registry, failing the test on error.
func build(t *testing.T, typ, data string) Check {
	t.Helper()
	c, err := New(Spec{Type: typ, Data: data})
	if err != nil {
		t.Fatalf("New(%s %q): %v", typ, data, err)
	}
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
	if r.OK != ok || r.Hard != hard || r.Code != code {
		t.Errorf("got OK=%v Hard=%v Code=%d (%q), want OK=%v Hard=%v Code=%d", r.OK, r.Hard, r.Code, r.Reason, ok, hard, code)
	}
	if reasonPart != "" && !strings.Contains(r.Reason, reasonPart) {
		t.Errorf("reason %q does not contain %q", r.Reason, reasonPart)
	}
}
