package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionString(t *testing.T) {
	old := version
	defer func() { version = old }()
	version = "1.2.3"
	s := versionString()
	assert.True(t, strings.HasPrefix(s, "lbd 1.2.3"), s)
	assert.Contains(t, s, "go1.")
}
