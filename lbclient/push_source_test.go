package lbclient

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A push goes out from the agent's own listen address of the target's
// family, so that lbd, which accepts pushes from its members' addresses,
// sees it come from the address it polls.
func TestPushSources(t *testing.T) {
	for _, tc := range []struct {
		listen     []string
		src4, src6 string
	}{
		{[]string{"0.0.0.0:161", "[::]:161"}, "", ""},
		{[]string{"127.0.0.2:161"}, "127.0.0.2", ""},
		{[]string{"[::]:161", "192.0.2.7:161", "[2001:db8::7]:161", "192.0.2.8:161"}, "192.0.2.7", "2001:db8::7"},
	} {
		c := &Compiled{}
		c.Agent.Listen = tc.listen
		s := c.pushSettings()
		assert.Equal(t, tc.src4, s.source4, "%v", tc.listen)
		assert.Equal(t, tc.src6, s.source6, "%v", tc.listen)
	}
}
