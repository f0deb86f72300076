package agent

import (
	"errors"
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

func isErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("want error %v, got %v", target, err)
	}
}

func truth(t testing.TB, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Fatalf("%v: condition failed", msg)
	}
}
