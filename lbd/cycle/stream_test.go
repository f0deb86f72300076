package cycle

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWaiting(t *testing.T) {
	cfg := planConfig(t, aliasA+aliasB+"[[alias]]\nname = \"c.lb.example.org\"\nmembers = [\"gone.example.org\"]\n")
	ip := netip.MustParseAddr
	resolved := map[string][]netip.Addr{
		"192.0.2.1": {ip("192.0.2.1")}, "192.0.2.2": {ip("192.0.2.2")}, "192.0.2.3": {ip("192.0.2.3")},
		// gone.example.org did not resolve
	}
	w := NewWaiting(cfg, []int{0, 1, 2}, resolved)
	assert.Equal(t, []netip.Addr{ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")}, w.Addrs(), "each address once")
	assert.Equal(t, []int{2}, w.Ready(), "an alias with nothing to poll is complete at once")
	for _, step := range []struct {
		addr string
		want []int
	}{
		{"192.0.2.3", []int{1}}, // b's only member
		{"192.0.2.1", nil},      // a still waits for .2
		{"192.0.2.1", nil},      // twice: nothing more
		{"198.51.100.1", nil},   // not asked for
		{"192.0.2.2", []int{0}}, // a complete
	} {
		assert.Equal(t, step.want, w.Answered(ip(step.addr)), step.addr)
	}

	// A member's address shared by two due aliases completes both.
	w = NewWaiting(planConfig(t, aliasA+"[[alias]]\nname = \"d.lb.example.org\"\nmembers = [\"192.0.2.2\"]\n"), []int{0, 1}, resolved)
	assert.Nil(t, w.Answered(ip("192.0.2.1")))
	assert.Equal(t, []int{0, 1}, w.Answered(ip("192.0.2.2")))
}
