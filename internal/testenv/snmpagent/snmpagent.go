// Package snmpagent starts an in-process lbclient SNMP agent answering a
// fixed value, for tests of the lbd side (the poller, the daemon). It lives
// apart from testenv so that the agent's own tests can use testenv.
package snmpagent

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/lbd-project/lbd/lbclient/agent"
)

// Start serves cfg on ip:port (UDP) with the fixed value v until the
// returned stop is called or the test ends.
func Start(t testing.TB, ip string, port int, cfg agent.Config, v agent.Value) (stop func()) {
	t.Helper()
	r, err := agent.New(cfg, func() agent.Value { return v }, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Serve(ctx, conn); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); conn.Close(); <-done }) }
	t.Cleanup(stop)
	return stop
}
