package snmp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lbd-project/lbd/internal/testenv/snmpagent"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
)

func TestReplyResultValues(t *testing.T) {
	for _, c := range []struct {
		r    Reply
		want string
	}{
		{Reply{Value: Value{Int: 5}}, PollOK},
		{Reply{Value: Value{Int: 0}}, PollOK},
		{Reply{Value: Value{Int: -13}}, PollNegative},
		{Reply{Value: Value{IsString: true, Str: "a=1,b=2"}}, PollOK},
		{Reply{Value: Value{IsString: true, Str: "a=1, b = -2"}}, PollNegative},
		{Reply{Value: Value{IsString: true, Str: "a=x,b"}}, PollOK},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", &timeoutError{attempts: 2})}, PollTimeout},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", &timeoutError{dropped: errBadHMAC.Error()})}, PollAuthError},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", &timeoutError{dropped: errWrongCommunity.Error()})}, PollAuthError},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", &timeoutError{dropped: errWrongReqID.Error()})}, PollTimeout},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", badAnswer(&reportError{"usmStatsWrongDigests"}))}, PollAuthError},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", badAnswer(errors.New("agent answered noSuchObject")))}, PollMalformed},
		{Reply{Err: fmt.Errorf("poll 1.2.3.4: %w", errClosed)}, PollError},
		{Reply{Err: context.DeadlineExceeded}, PollTimeout},
	} {
		assert.Equal(t, c.want, c.r.Result(), "%+v", c.r)
		assert.Contains(t, PollResults, c.r.Result())
	}
	assert.Nil(t, badAnswer(nil))
}

// Real agents: the classification of what the poller really returns.
func TestReplyResultLive(t *testing.T) {
	port := freeUDPPort(t)
	v2 := agent.Config{Community: "public", EngineID: agent.EngineIDFor("r1"), Boots: 1}
	snmpagent.Start(t, "127.0.3.1", port, v2, agent.Value{Int: 7})
	snmpagent.Start(t, "127.0.3.2", port, v2, agent.Value{Int: -3})
	snmpagent.Start(t, "127.0.3.3", port, v2, agent.Value{IsString: true, Str: "a=4,b=-1"})
	v3 := agent.Config{Users: []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: "another-password"}},
		EngineID: agent.EngineIDFor("r4"), Boots: 1}
	snmpagent.Start(t, "127.0.3.4", port, v3, agent.Value{Int: 7})

	p2, err := NewPoller(Config{Version: "2c", Community: "public", Port: port, Timeout: tomlconf.Duration{Duration: 300 * time.Millisecond}}, 2)
	assert.NoError(t, err)
	defer p2.Close()
	got := p2.PollAll(context.Background(), []netip.Addr{ip("127.0.3.1"), ip("127.0.3.2"), ip("127.0.3.3"), ip("127.0.3.9")})
	assert.Equal(t, PollOK, got[ip("127.0.3.1")].Result())
	assert.Equal(t, PollNegative, got[ip("127.0.3.2")].Result())
	assert.Equal(t, PollNegative, got[ip("127.0.3.3")].Result())
	assert.Equal(t, PollTimeout, got[ip("127.0.3.9")].Result(), "nothing listens there")

	p3, err := NewPoller(v3md5(port, 300*time.Millisecond, 0), 1)
	assert.NoError(t, err)
	defer p3.Close()
	r := p3.PollAll(context.Background(), []netip.Addr{ip("127.0.3.4")})[ip("127.0.3.4")]
	assert.Equal(t, PollAuthError, r.Result(), "wrong password: %v", r.Err)
}
