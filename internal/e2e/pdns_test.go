package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// PowerDNS refuses a whole UPDATE when one of its names holds a CNAME. In
// a zone of three aliases, one of which is a CNAME, lbd retries the zone's
// batch alias by alias: the other two are published in the same cycle, and
// the error names the CNAME.
func TestPowerDNSOneBadAliasDoesNotBlockItsZone(t *testing.T) {
	const zoneName = "pz.test"
	agents := startThreeAgents(t)
	key := lbdKey
	p := testenv.StartPowerDNS(t, testenv.PDNSOptions{Zones: []string{zoneName}, Keys: []tsig.Spec{key}})
	// bad.pz.test is a CNAME, made by someone else.
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zoneName))
	cn, err := dns.NewRR("bad.pz.test. 300 IN CNAME elsewhere.example.")
	require.NoError(t, err)
	m.Insert([]dns.RR{cn})
	m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, TsigProvider: testenv.CompileKey(t, key)}
	r, _, err := c.ExchangeContext(context.Background(), m, p.Addr)
	require.NoError(t, err)
	require.Equal(t, dns.RcodeSuccess, r.Rcode, "create the CNAME")

	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: p.Addr, SNMPPort: agents[0].Port,
		Alias: "a." + zoneName, Members: []string{"127.0.0.2"}, BestHosts: 1,
		Extra: "zone = \"" + zoneName + "\"\n" +
			aliasTable("bad."+zoneName, "127.0.0.3") + "zone = \"" + zoneName + "\"\n" +
			aliasTable("c."+zoneName, "127.0.0.4") + "zone = \"" + zoneName + "\"\n"})
	out, errOut, err := runLBD(t, "-config", cfg, "-once")
	require.Error(t, err, "the CNAME alias fails:\n%s\n%s", out, errOut)
	a := func(name string) []string {
		var got []string
		for _, rr := range p.Query(t, name, dns.TypeA) {
			if v, ok := rr.(*dns.A); ok && strings.EqualFold(v.Hdr.Name, dns.Fqdn(name)) {
				got = append(got, v.A.String())
			}
		}
		return got
	}
	require.Equal(t, []string{"127.0.0.2"}, a("a."+zoneName), "published in the same cycle:\n%s", out)
	require.Equal(t, []string{"127.0.0.4"}, a("c."+zoneName), "published in the same cycle:\n%s", out)
	require.Contains(t, out, "holds a CNAME to elsewhere.example.")
}
