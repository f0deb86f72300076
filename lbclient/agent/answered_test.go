package agent

import (
	"testing"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stats.Answered counts Responses (v2c and v3), not Reports or drops.
func TestStatsAnswered(t *testing.T) {
	r := newTest(t, val(Value{Int: 1}), nil)
	st := r.Stats()
	_, ok := r.Handle(v2cGet(t, OID))
	require.True(t, ok)
	assert.Equal(t, uint64(1), st.Answered.Load())
	_, ok = r.Handle([]byte("garbage"))
	require.False(t, ok)
	assert.Equal(t, uint64(1), st.Answered.Load(), "a drop is not an answer")

	port := serve(t, r)
	_, err := client(t, port, &gosnmp.UsmSecurityParameters{UserName: "loadbalancing", AuthenticationProtocol: gosnmp.MD5,
		AuthenticationPassphrase: testPass}, gosnmp.AuthNoPriv).Get([]string{OID})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Answered.Load(), "the v3 GET (its discovery is a Report)")
	assert.Equal(t, uint32(1), st.UnknownEngineIDs.Load())
}
