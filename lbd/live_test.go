package lbd

import (
	"context"
	"strconv"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsserver"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/config"
)

// liveServer is one of the DNS servers lbd writes to, started for a test.
type liveServer struct {
	name string
	// start returns the server's address.
	start func(t *testing.T) string
}

// liveServers are named, Knot, PowerDNS and the embedded server, each
// serving zones, updatable with key.
func liveServers(zones []string, key tsig.Spec) []liveServer {
	return []liveServer{
		{"named", func(t *testing.T) string {
			return testenv.StartNamed(t, testenv.NamedOptions{Zones: zones, Keys: []tsig.Spec{key}}).Addr
		}},
		{"knot", func(t *testing.T) string {
			return testenv.StartKnot(t, testenv.KnotOptions{Zones: zones, Keys: []tsig.Spec{key}}).Addr
		}},
		{"powerdns", func(t *testing.T) string {
			return testenv.StartPowerDNS(t, testenv.PDNSOptions{Zones: zones, Keys: []tsig.Spec{key}}).Addr
		}},
		{"embedded", func(t *testing.T) string {
			var ez []dnsserver.Zone
			for _, z := range zones {
				ez = append(ez, dnsserver.Zone{Name: z, NS: []string{"ns1." + z + "."}, UpdateKeys: []string{key.Name}})
			}
			srv, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Keys: []tsig.Spec{key}, Zones: ez})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan struct{})
			go func() { defer close(served); srv.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-served })
			return srv.Addr()
		}},
	}
}

// liveDaemon is a master (host name "h") writing to the DNS server at
// dnsAddr with key, polling SNMPv2c agents at port (200 ms timeout, no
// retry), with lbdKeys added to its [lbd] table and the aliases given
// ([[alias]] tables); debug logs go to the hook.
func liveDaemon(t *testing.T, dnsAddr string, key tsig.Spec, port int, lbdKeys, aliases string) (*Daemon, *test.Hook) {
	t.Helper()
	src := `
[lbd]
role = "master"
` + lbdKeys + `
[dns]
server = "` + dnsAddr + `"
timeout = "2s"
retries = 1
internal_key = { name = "` + key.Name + `", algorithm = "` + key.Algorithm + `", secret = "` + key.Secret + `" }
[snmp]
version = "2c"
community = "public"
port = ` + strconv.Itoa(port) + `
timeout = "200ms"
retries = 0
` + aliases
	cfg, err := config.Parse("live.toml", []byte(src))
	require.NoError(t, err)
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	d, err := New(cfg, "h", log)
	require.NoError(t, err)
	t.Cleanup(func() { d.poller.Close() })
	return d, hook
}
