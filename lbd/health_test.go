package lbd

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextHealth(t *testing.T) {
	timeout := errors.New("i/o timeout")
	down1 := ServerHealth{Down: true, Since: planNow, Failures: 1, NextProbe: planNow.Add(time.Second), LastErr: "i/o timeout"}
	for _, tc := range []struct {
		name string
		prev ServerHealth
		mode readMode
		out  viewOutcome
		want ServerHealth
	}{
		{"up and answering", ServerHealth{}, readAll, viewOutcome{attempted: 3, answered: 3}, ServerHealth{}},
		{"one timeout among answers: still up", ServerHealth{}, readAll, viewOutcome{attempted: 3, answered: 2, err: timeout}, ServerHealth{}},
		{"nothing answered: down, probe in 1s", ServerHealth{}, readAll, viewOutcome{attempted: 3, err: timeout}, down1},
		{"probe fails: backoff doubles", down1, readProbe, viewOutcome{attempted: 1, err: timeout},
			ServerHealth{Down: true, Since: planNow, Failures: 2, NextProbe: planNow.Add(2 * time.Second), LastErr: "i/o timeout"}},
		{"backoff capped at a minute", ServerHealth{Down: true, Since: planNow, Failures: 30}, readProbe, viewOutcome{attempted: 1, err: timeout},
			ServerHealth{Down: true, Since: planNow, Failures: 31, NextProbe: planNow.Add(time.Minute), LastErr: "i/o timeout"}},
		{"probe answers: up", down1, readProbe, viewOutcome{attempted: 1, answered: 1}, ServerHealth{Since: planNow}},
		{"skipped: unchanged", down1, readSkip, viewOutcome{}, down1},
		{"nothing to read: unchanged", ServerHealth{}, readAll, viewOutcome{}, ServerHealth{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextHealth(planNow, tc.prev, tc.mode, tc.out))
		})
	}
}

func TestReadModes(t *testing.T) {
	cfg := planConfig(t, aliasA)
	h := map[string]ServerHealth{
		"127.0.0.1:5301": {Down: true, NextProbe: planNow.Add(time.Second)},
		"127.0.0.1:5302": {Down: true, NextProbe: planNow},
	}
	assert.Equal(t, []readMode{readSkip, readProbe, readAll, readAll}, readModes(planNow, cfg, h))
	assert.Equal(t, []bool{true, true, false, false}, downViews([]readMode{readSkip, readProbe, readAll, readAll},
		[]viewOutcome{{}, {attempted: 1}, {attempted: 2, answered: 1}, {}}))
}
