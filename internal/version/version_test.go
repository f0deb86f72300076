package version

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestString(t *testing.T) {
	old := Version
	defer func() { Version = old }()
	Version = "1.2.3"
	s := String("lbd")
	assert.True(t, strings.HasPrefix(s, "lbd 1.2.3"), s)
	assert.Contains(t, s, "go1.")
}
