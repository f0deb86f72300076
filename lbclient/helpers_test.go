package lbclient

import (
	"reflect"
	"testing"
)

// Small assertion helpers (testify's dependencies are not in go.sum).

func eq(t testing.TB, want, got any, msg ...any) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%v: want %#v, got %#v", msg, want, got)
	}
}

func must(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v: unexpected error: %v", msg, err)
	}
}
