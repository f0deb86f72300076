package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

// The CERN internal / external layout: BIND views matched by key alone
// (internal key → internal view, external key → external view, unsigned →
// REFUSED). lbd reads each view signed with that view's key, so both
// aliases are published, a second run has nothing to do, and a change made
// by hand in the internal view is repaired (and logged as drift) by the
// next run.
func TestKeyOnlyViews(t *testing.T) {
	const extAlias = "ext.lb.test"
	agents := startThreeAgents(t)
	internal := lbdKey
	ext := tsig.Spec{Name: "lbd-ext.", Algorithm: "hmac-sha512", Secret: extSecret}
	n := testenv.StartNamed(t, testenv.NamedOptions{
		Zones: []string{alias, extAlias}, Keys: []tsig.Spec{internal}, ExternalKey: &ext, KeyOnly: true,
	})
	require.True(t, n.Refuses(t, alias), "unsigned queries must match no view")
	cfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, Alias: alias,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, ExtKey: true,
		Extra: "[[alias]]\nname = \"" + extAlias + "\"\nmembers = [\"127.0.0.2\", \"127.0.0.3\", \"127.0.0.4\"]\nbest_hosts = 1\nexternal = true\n"})

	view := func(name string, key *tsig.Spec) []string {
		return testenv.AddrsA(n.QueryView(t, name, dns.TypeA, key))
	}
	out, errOut, err := runLBD(t, "-config", cfg, "-once")
	require.NoError(t, err, "lbd -once:\n%s\n%s", out, errOut)
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3"}, view(alias, &internal), "internal alias, internal view")
	require.Equal(t, []string{"127.0.0.2"}, view(extAlias, &internal), "external alias, internal view")
	require.Equal(t, []string{"127.0.0.2"}, view(extAlias, &ext), "external alias, external view")

	out, errOut, err = runLBD(t, "-config", cfg, "-once")
	require.NoError(t, err, "second lbd -once:\n%s\n%s", out, errOut)
	require.Equal(t, 2, strings.Count(out, "DNS unchanged"), "second run has nothing to do:\n%s\n%s", out, errOut)

	// A hand-made change in the internal view.
	c := &dnsupdate.Client{Server: n.Addr, Key: testenv.CompileKey(t, internal), Timeout: 2 * time.Second}
	errs := c.ApplyEach(context.Background(), []dnsupdate.Change{{Zone: alias, Name: alias, TTL: 60, Replace: true,
		Desired: []netip.Addr{netip.MustParseAddr("192.0.2.99")}}})
	require.NoError(t, errs[dns.Fqdn(alias)])
	require.Equal(t, []string{"192.0.2.99"}, view(alias, &internal))

	out, errOut, err = runLBD(t, "-config", cfg, "-once")
	require.NoError(t, err, "repairing lbd -once:\n%s\n%s", out, errOut)
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3"}, view(alias, &internal), "drift repaired")
	require.Equal(t, []string{"127.0.0.2"}, view(extAlias, &ext), "external view untouched")
	require.Contains(t, out, alias+": ")
	require.Contains(t, out, "DNS updated")

	// The running daemon repairs the next hand-made change at its next
	// cycle and says it was drift.
	daemonCfg := writeLBDConfig(t, lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, Alias: alias,
		Members: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}, BestHosts: 2, ExtKey: true, Polling: "1s"})
	stop, log := startLBD(t, "-config", daemonCfg, "-log-level", "debug")
	defer stop()
	// The first cycle has found the view in sync once it logged its end.
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "msg=cycle") })
	errs = c.ApplyEach(context.Background(), []dnsupdate.Change{{Zone: alias, Name: alias, TTL: 60, Replace: true,
		Desired: []netip.Addr{netip.MustParseAddr("192.0.2.98")}}})
	require.NoError(t, errs[dns.Fqdn(alias)])
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "DNS drift") })
	waitFor(t, 10*time.Second, func() bool { return strings.Join(view(alias, &internal), " ") == "127.0.0.2 127.0.0.3" })
	require.Contains(t, log.String(), "192.0.2.98", "the drift log names what was found")
}
