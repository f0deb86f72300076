package health

import (
	"errors"
	"testing"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var planNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestNextHealth(t *testing.T) {
	timeout := errors.New("i/o timeout")
	down1 := Server{Down: true, Since: planNow, Failures: 1, NextProbe: planNow.Add(time.Second), LastErr: "i/o timeout"}
	for _, tc := range []struct {
		name string
		prev Server
		mode Mode
		out  Outcome
		want Server
	}{
		{"up and answering", Server{}, ReadAll, Outcome{Attempted: 3, Answered: 3}, Server{}},
		{"one timeout among answers: still up", Server{}, ReadAll, Outcome{Attempted: 3, Answered: 2, Err: timeout}, Server{}},
		{"nothing Answered: down, probe in 1s", Server{}, ReadAll, Outcome{Attempted: 3, Err: timeout}, down1},
		{"probe fails: backoff doubles", down1, ReadProbe, Outcome{Attempted: 1, Err: timeout},
			Server{Down: true, Since: planNow, Failures: 2, NextProbe: planNow.Add(2 * time.Second), LastErr: "i/o timeout"}},
		{"backoff capped at a minute", Server{Down: true, Since: planNow, Failures: 30}, ReadProbe, Outcome{Attempted: 1, Err: timeout},
			Server{Down: true, Since: planNow, Failures: 31, NextProbe: planNow.Add(time.Minute), LastErr: "i/o timeout"}},
		{"probe answers: up", down1, ReadProbe, Outcome{Attempted: 1, Answered: 1}, Server{Since: planNow}},
		{"skipped: unchanged", down1, ReadSkip, Outcome{}, down1},
		{"nothing to read: unchanged", Server{}, ReadAll, Outcome{}, Server{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Next(planNow, tc.prev, tc.mode, tc.out))
		})
	}
}

func TestReadModes(t *testing.T) {
	cfg, err := config.Parse("h.toml", []byte(`
[lbd]
role = "master"
[dns]
servers = ["127.0.0.1:5301", "127.0.0.1:5302"]
internal_key = { name = "int.", secret = "aW50ZXJuYWw=" }
external_key = { name = "ext.", secret = "ZXh0ZXJuYWw=" }
[snmp]
version = "2c"
community = "public"
[[alias]]
name = "a.lb.example.org"
members = ["192.0.2.1"]
`))
	require.NoError(t, err)
	h := map[string]Server{
		"127.0.0.1:5301": {Down: true, NextProbe: planNow.Add(time.Second)},
		"127.0.0.1:5302": {Down: true, NextProbe: planNow},
	}
	assert.Equal(t, []Mode{ReadSkip, ReadProbe, ReadAll, ReadAll}, Modes(planNow, cfg, h))
	assert.Equal(t, []bool{true, true, false, false}, DownViews([]Mode{ReadSkip, ReadProbe, ReadAll, ReadAll},
		[]Outcome{{}, {Attempted: 1}, {Attempted: 2, Answered: 1}, {}}))
}
