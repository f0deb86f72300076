package snmp

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func TestEngineFileRoundTrip(t *testing.T) {
	at := time.Unix(1764590000, 123456789)
	es := []Engine{
		{Addr: netip.MustParseAddrPort("127.1.0.1:161"), ID: []byte{0x80, 0, 0x1f, 0x88, 4, 1, 2}, Boots: 3, Time: 12345, At: at, Confirmed: at.Add(time.Second)},
		{Addr: netip.MustParseAddrPort("[::1]:1161"), ID: bytes.Repeat([]byte{7}, 32), Boots: 1<<31 - 1, Time: 0, At: at, Confirmed: at},
	}
	var b bytes.Buffer
	require.NoError(t, WriteEngines(&b, es))
	got, bad, err := ReadEngines(&b)
	require.NoError(t, err)
	assert.Zero(t, bad)
	require.Len(t, got, 2)
	for i := range es {
		assert.Equal(t, es[i].Addr, got[i].Addr)
		assert.Equal(t, es[i].ID, got[i].ID)
		assert.Equal(t, es[i].Boots, got[i].Boots)
		assert.Equal(t, es[i].Time, got[i].Time)
		assert.True(t, es[i].At.Equal(got[i].At))
		assert.True(t, es[i].Confirmed.Equal(got[i].Confirmed))
	}
}

func TestEngineFileBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		n, bad     int
		err        string
	}{
		{"empty", "", 0, 0, "empty engine file"},
		{"another file", "[lbd]\nrole = \"master\"\n", 0, 0, "not an engine file"},
		{"bad lines skipped", engineFileHeader + "\n" +
			"127.0.0.1:161 800000000102 1 2 3 4\n" + // good
			"127.0.0.1:161 8000 1 2 3 4\n" + // engine ID too short (RFC 3411: 5..32)
			"127.0.0.1 800000000102 1 2 3 4\n" + // no port
			"127.0.0.1:161 zz 1 2 3 4\n" +
			"127.0.0.1:161 800000000102 -1 2 3 4\n" +
			"127.0.0.1:161 800000000102 1 2 3\n" +
			strings.Repeat("x", 5000) + "\n", 1, 5, "token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, bad, err := ReadEngines(strings.NewReader(tc.text))
			assert.Len(t, es, tc.n)
			assert.Equal(t, tc.bad, bad)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

// A poller given the engines of another (a reload, or the file of the last
// run) sends its first GET without a discovery exchange; an engine the
// agent no longer has (it restarted: boots+1) is resynchronised within the
// same Get by the agent's report. Entries too old to trust, and any for
// SNMPv2c, are not taken.
func TestAddEngines(t *testing.T) {
	port := freeUDPPort(t)
	const addr = "127.0.0.53"
	id := agent.EngineIDFor("e53")
	stop := snmpagent.Start(t, addr, port, agent.Config{Users: md5User, EngineID: id, Boots: 1}, agent.Value{Int: 5})
	first, err := NewPoller(v3md5(port, time.Second, 0), 4)
	require.NoError(t, err)
	defer first.Close()
	_, err = first.Get(context.Background(), ip(addr))
	require.NoError(t, err)
	es := first.Engines()
	require.Len(t, es, 1)
	assert.Equal(t, []byte(id), es[0].ID)

	// Through the file, as across a restart.
	var b bytes.Buffer
	require.NoError(t, WriteEngines(&b, es))
	es, _, err = ReadEngines(&b)
	require.NoError(t, err)

	next, err := NewPoller(v3md5(port, time.Second, 0), 4)
	require.NoError(t, err)
	defer next.Close()
	ev := countEvents(next)
	assert.Equal(t, 1, next.AddEngines(es, time.Now()))
	assert.Zero(t, next.AddEngines(es, time.Now()), "known already")
	v, err := next.Get(context.Background(), ip(addr))
	require.NoError(t, err)
	assert.Equal(t, 5, v.Int)
	assert.Zero(t, ev.get(evDiscovery), "no discovery: the engine was given")
	assert.Equal(t, 1, ev.get(evSend), "one datagram: the GET")

	// The agent restarts (boots 2) while the entry is kept elsewhere.
	stop()
	snmpagent.Start(t, addr, port, agent.Config{Users: md5User, EngineID: id, Boots: 2}, agent.Value{Int: 6})
	again, err := NewPoller(v3md5(port, time.Second, 0), 4)
	require.NoError(t, err)
	defer again.Close()
	ev = countEvents(again)
	require.Equal(t, 1, again.AddEngines(es, time.Now()))
	v, err = again.Get(context.Background(), ip(addr))
	require.NoError(t, err)
	assert.Equal(t, 6, v.Int)
	assert.Zero(t, ev.get(evDiscovery))
	assert.Equal(t, 1, ev.get(evResync), "the report of the restarted agent resynchronised the engine")

	late, err := NewPoller(v3md5(port, time.Second, 0), 4)
	require.NoError(t, err)
	defer late.Close()
	assert.Zero(t, late.AddEngines(es, es[0].Confirmed.Add(engineTTL+time.Second)), "not confirmed for longer than the cache keeps an engine")
	assert.Zero(t, late.AddEngines(es, es[0].Confirmed.Add(-2*time.Minute)), "confirmed in the future")

	v2, err := NewPoller(Config{Version: "2c", Community: "public", Port: port}, 4)
	require.NoError(t, err)
	defer v2.Close()
	assert.Zero(t, v2.AddEngines(es, time.Now()))
	assert.Empty(t, v2.Engines())
}
