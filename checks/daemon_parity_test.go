package checks

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "host" with "ip": accepted whatever the families, as the existing
// lbclient does; only the tables of the families in "ip" are read, so a
// host of another family never matches (docs/protocol.md §5.3).
func TestDaemonHostWithIP(t *testing.T) {
	cases := []struct {
		data string
		ok   bool
	}{
		{`{"port": 22, "ip": "4", "host": "::1"}`, false},
		{`{"port": 22, "ip": "6", "host": "127.0.0.1"}`, false},
		{`{"port": 80, "ip": "ipv6", "host": "127.0.0.1"}`, false}, // :: is no IPv4 wildcard
		{`{"port": 3306, "ip": "4", "host": ["::1", "10.0.0.5"]}`, true},
		{`{"port": 25, "ip": ["6"], "host": ["127.0.0.1", "::1"]}`, true},
		{`{"port": 22, "ip": ["4", "6"], "host": "0.0.0.0"}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.data, func(t *testing.T) {
			c, err := New(Spec{Type: "daemon", Data: tc.data})
			require.NoError(t, err)
			r := c.Run(context.Background(), Env{Root: netListen})
			assert.Equal(t, tc.ok, r.OK, r.Reason)
			assert.False(t, r.Hard, r.Reason)
			assert.Equal(t, CodeDaemon, r.Code)
		})
	}
}
