package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionFlag(t *testing.T) {
	code, out, errs := runCmd("-version")
	assert.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "lbclient "), out)
	assert.Contains(t, out, "go1.")
}
