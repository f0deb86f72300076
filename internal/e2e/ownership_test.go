package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

func aliasTable(name string, members ...string) string {
	return fmt.Sprintf("[[alias]]\nname = %q\nmembers = [\"%s\"]\nbest_hosts = 1\n", name, strings.Join(members, `", "`))
}

// Against BIND, with lbd -once and [lbd] state_dir: every published alias
// carries its ownership record; an alias whose name holds records lbd did
// not write is reported and left alone; an alias removed from the
// configuration has its records and its ownership record deleted by the
// next run; -dry-run shows the deletion first.
func TestOwnershipAndRemovalOnBIND(t *testing.T) {
	const (
		old     = "old.lb.test"
		foreign = "foreign.lb.test"
	)
	agents := startThreeAgents(t)
	key := lbdKey
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{alias, old, foreign}, Keys: []tsig.Spec{key}})
	// A record someone else made at the name of an alias lbd is given.
	c := &dnsupdate.Client{Server: n.Addr, Key: testenv.CompileKey(t, key), Timeout: 2 * time.Second}
	res := c.ApplyEach(context.Background(), []dnsupdate.Change{{Zone: foreign, Name: foreign, TTL: 300, Replace: true,
		Desired: []netip.Addr{netip.MustParseAddr("192.0.2.50")}}})
	require.NoError(t, res[dns.Fqdn(foreign)])

	state := t.TempDir()
	opts := lbdOpts{Role: "master", Server: n.Addr, SNMPPort: agents[0].Port, StateDir: state,
		Alias: alias, Members: []string{"127.0.0.2", "127.0.0.3"}, BestHosts: 1,
		Extra: aliasTable(old, "127.0.0.3") + aliasTable(foreign, "127.0.0.4")}
	cfg := writeLBDConfig(t, opts)
	out, errOut, err := runLBD(t, "-config", cfg, "-once")
	require.Error(t, err, "the foreign alias is an error:\n%s\n%s", out, errOut)
	require.Contains(t, out+errOut, "did not write")
	a := func(name string) []string { g, _ := published(t, n, name); return g }
	require.Equal(t, []string{"127.0.0.2"}, a(alias))
	require.Equal(t, []string{"127.0.0.3"}, a(old))
	require.Equal(t, []string{"192.0.2.50"}, a(foreign), "a name lbd does not own is never overwritten")
	owner := func(name string) []string { return txt(n.Query(t, dnsupdate.OwnerName(name), dns.TypeTXT)) }
	require.Equal(t, []string{"lbd-owner v=1 group=master.test"}, owner(alias))
	require.Equal(t, []string{"lbd-owner v=1 group=master.test"}, owner(old))
	require.Empty(t, owner(foreign))

	// old and foreign leave the configuration.
	opts.Extra = ""
	cfg = writeLBDConfig(t, opts)
	out, errOut, err = runLBD(t, "-config", cfg, "-dry-run")
	require.NoError(t, err, "dry run:\n%s\n%s", out, errOut)
	require.Contains(t, out, "delete "+old+". A (whole RRset)", "dry run shows the deletion")
	require.Equal(t, []string{"127.0.0.3"}, a(old), "dry run deletes nothing")

	out, errOut, err = runLBD(t, "-config", cfg, "-once")
	require.NoError(t, err, "removal run:\n%s\n%s", out, errOut)
	require.Empty(t, a(old), "the removed alias's records are gone")
	require.Empty(t, owner(old), "and its ownership record")
	require.Equal(t, []string{"192.0.2.50"}, a(foreign), "the foreign name was never ours: left alone")
	require.Equal(t, []string{"127.0.0.2"}, a(alias))
	b, err := os.ReadFile(state + "/managed.json")
	require.NoError(t, err)
	require.NotContains(t, string(b), old, "forgotten once deleted")
	require.NotContains(t, string(b), foreign, "never written, never managed... and removed now")
}

// The embedded server, with a running daemon: a reload that drops an alias
// deletes its records at the next cycle.
func TestRemovalOnReloadEmbedded(t *testing.T) {
	const old = "old.lb.test"
	agents := startThreeAgents(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	opts := lbdOpts{Role: "master", Embedded: addr, DataDir: t.TempDir(), SNMPPort: agents[0].Port,
		Alias: alias, Members: []string{"127.0.0.2"}, BestHosts: 1, Polling: "300ms", Extra: aliasTable(old, "127.0.0.3")}
	cfg := writeLBDConfig(t, opts)
	_, log, cmd := startLBDCmd(t, "-config", cfg, "-hostname", "master.test")
	query := func(name string, qtype uint16) []string {
		c := &dns.Client{Timeout: 300 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return []string{"error"}
		}
		var out []string
		for _, rr := range r.Answer {
			switch v := rr.(type) {
			case *dns.A:
				out = append(out, v.A.String())
			case *dns.TXT:
				out = append(out, strings.Join(v.Txt, ""))
			}
		}
		sort.Strings(out)
		return out
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Join(query(old, dns.TypeA), " ") == "127.0.0.3" })
	require.Equal(t, []string{"lbd-owner v=1 group=master.test"}, query(dnsupdate.OwnerName(old), dns.TypeTXT))

	opts.Extra = ""
	data, err := os.ReadFile(writeLBDConfig(t, opts))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, data, 0o644))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, func() bool {
		return len(query(old, dns.TypeA)) == 0 && len(query(dnsupdate.OwnerName(old), dns.TypeTXT)) == 0
	})
	require.Contains(t, log.String(), "alias no longer configured")
	require.Equal(t, []string{"127.0.0.2"}, query(alias, dns.TypeA))
}
