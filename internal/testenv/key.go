package testenv

import (
	"testing"

	"github.com/lbd-project/lbd/internal/tsig"
)

// CompileKey compiles a configured TSIG key, failing the test when it is
// invalid.
func CompileKey(t testing.TB, s tsig.Spec) *tsig.Key {
	t.Helper()
	k, err := s.Compile()
	if err != nil {
		t.Fatalf("TSIG key %+v: %v", s, err)
	}
	return k
}
