package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/shard"
)

// shardInterval is the heartbeat interval of the shard tests; every wait
// below is a multiple of it.
const shardInterval = 500 * time.Millisecond

// shardInstance is one lbd of a shard, run from the built binary.
type shardInstance struct {
	name string
	http string
	path string // its configuration file
	log  *syncBuffer
	cmd  *exec.Cmd
	stop func()
}

// writes counts, per zone, the "DNS updated" lines of the instance's JSON
// log between byte offsets from and to (-1: the end): its UPDATEs of an
// alias's records.
func (s *shardInstance) writes(t *testing.T, from, to int) map[string]int {
	t.Helper()
	out := map[string]int{}
	text := s.log.String()
	if to < 0 || to > len(text) {
		to = len(text)
	}
	from = min(from, to)
	for _, line := range strings.Split(text[from:to], "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec struct {
			Msg  string `json:"msg"`
			Zone string `json:"zone"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "DNS updated" {
			out[rec.Zone]++
		}
	}
	return out
}

// startShard runs one lbd per name against the DNS server at server, each
// with the others as peers and every zone as an alias of the three agents
// (best_hosts 1).
func startShard(t *testing.T, server string, snmpPort int, names, zones []string) []*shardInstance {
	t.Helper()
	return startShardVia(t, server, snmpPort, names, zones, nil)
}

// startShardVia is startShard where instance from fetches the heartbeat
// of instance to at via(from, to) ("host:port"), when via is set.
func startShardVia(t *testing.T, server string, snmpPort int, names, zones []string, via func(from, to string) string) []*shardInstance {
	t.Helper()
	tokens := tokenFile(t)
	insts := make([]*shardInstance, len(names))
	for i, name := range names {
		insts[i] = &shardInstance{name: name, http: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))}
	}
	var aliases strings.Builder
	for _, z := range zones {
		fmt.Fprintf(&aliases, "[[alias]]\nname = %q\nmembers = [\"127.0.0.2\", \"127.0.0.3\", \"127.0.0.4\"]\nbest_hosts = 1\nttl = \"60s\"\n", z)
	}
	for _, inst := range insts {
		path := writeLBDConfig(t, lbdOpts{Role: "master", Server: server, SNMPPort: snmpPort, HTTP: inst.http,
			Interval: shardInterval.String(), StaleAfter: "2s", Polling: "300ms", Extra: aliases.String(), TokenFile: tokens})
		var peers strings.Builder
		fmt.Fprintf(&peers, "[lbd]\ninstance = %q\npeers = [\n", inst.name)
		for _, p := range insts {
			if p != inst {
				addr := p.http
				if via != nil {
					addr = via(inst.name, p.name)
				}
				fmt.Fprintf(&peers, "  { instance = %q, url = \"http://%s/load-balancing/heartbeat\" },\n", p.name, addr)
			}
		}
		peers.WriteString("]\n")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), "[lbd]\n", peers.String(), 1)), 0o644))
		inst.path = path
		inst.start(t)
	}
	for _, inst := range insts {
		waitHTTP(t, "http://"+inst.http+"/load-balancing/heartbeat")
	}
	return insts
}

// start runs the instance (again).
func (s *shardInstance) start(t *testing.T) {
	t.Helper()
	s.stop, s.log, s.cmd = startLBDCmd(t, "-config", s.path, "-hostname", s.name+".host", "-log-json")
}

// leaseHolder is the holder= of zone's lease as named serves it ("" when
// there is none, or it is released).
func leaseHolder(t *testing.T, n authServer, zone string) string {
	t.Helper()
	recs := txt(n.Query(t, dnsupdate.LeaseName(zone), dns.TypeTXT))
	if len(recs) != 1 {
		return ""
	}
	for _, f := range strings.Fields(recs[0]) {
		if h, ok := strings.CutPrefix(f, "holder="); ok {
			return h
		}
	}
	return ""
}

// requireSingleWriters fails when a zone was written (between the log
// offsets from and to, nil: the end) by an instance other than want[zone].
func requireSingleWriters(t *testing.T, insts []*shardInstance, from, to map[string]int, want map[string]string, phase string) {
	t.Helper()
	for _, inst := range insts {
		end := -1
		if to != nil {
			end = to[inst.name]
		}
		for zone, n := range inst.writes(t, from[inst.name], end) {
			require.Equal(t, want[zone], inst.name, "%s: zone %s written %d time(s) by %s, whose owner is %s: a second writer", phase, zone, n, inst.name, want[zone])
		}
	}
}

// Three lbd instances share six zones on one BIND: each zone is written by
// its rendezvous owner only, under its lease. One instance is killed
// (SIGKILL): within a bounded wait its zones' leases are held by their new
// owners among the survivors, which write them (a drained member leaves
// every alias, the dead instance's included), and no zone ever gets a
// second writer.
func TestShardThreeInstancesTakeOverOnBIND(t *testing.T) {
	zones := shardZoneNames("z")
	agents := startThreeAgents(t)
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: zones,
		Keys: []tsig.Spec{lbdKey}})
	shardTakeOver(t, agents, n.Addr, n, zones)
}

// The same on Knot DNS.
func TestShardThreeInstancesTakeOverOnKnot(t *testing.T) {
	zones := shardZoneNames("k")
	agents := startThreeAgents(t)
	k := testenv.StartKnot(t, testenv.KnotOptions{Zones: zones,
		Keys: []tsig.Spec{lbdKey}})
	shardTakeOver(t, agents, k.Addr, k, zones)
}

// lbd -drain sent to an instance that does not write the alias's zone is
// refused with the owner's address (409), and the command sends it there:
// the member leaves DNS.
func TestShardDrainFollowsTheOwner(t *testing.T) {
	zones := shardZoneNames("d")
	agents := startThreeAgents(t)
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: zones,
		Keys: []tsig.Spec{lbdKey}})
	names := []string{"lbd1", "lbd2", "lbd3"}
	owners := shard.Assign(zones, names)
	insts := startShard(t, n.Addr, agents[0].Port, names, zones)
	for _, z := range zones {
		waitFor(t, 40*shardInterval, func() bool { return leaseHolder(t, n, z) == owners[z] && len(addrsOf(t, n, z)) == 1 })
	}
	// A zone lbd1 does not own, drained through lbd1.
	var zone string
	for _, z := range zones {
		if owners[z] != "lbd1" {
			zone = z
			break
		}
	}
	require.NotEmpty(t, zone)
	best := addrsOf(t, n, zone)[0]
	out, errOut, err := runLBD(t, "-config", insts[0].path, "-drain", zone+"/"+best, "-for", "1h", "-reason", "maintenance")
	require.NoError(t, err, "%s\n%s", out, errOut)
	require.Contains(t, out, "409 Conflict", "lbd1 does not write "+zone)
	require.Contains(t, out, "sending it to http://")
	require.Contains(t, out, "200 OK: written")
	require.NotContains(t, addrsOf(t, n, zone), best, "drained by the owner %s", owners[zone])
}

// shardZoneNames are the six zones of a shard test.
func shardZoneNames(prefix string) []string {
	var zones []string
	for i := range 6 {
		zones = append(zones, fmt.Sprintf("%s%d.shard.test", prefix, i))
	}
	return zones
}

// authServer is what the shard tests read of a DNS server (testenv.Named,
// testenv.Knot).
type authServer interface {
	Query(t testing.TB, name string, qtype uint16) []dns.RR
}

// addrsOf is the sorted A records srv serves for name.
func addrsOf(t *testing.T, srv authServer, name string) []string {
	t.Helper()
	return testenv.AddrsA(srv.Query(t, name, dns.TypeA))
}

// shardTakeOver is the take-over scenario against the DNS server at addr.
func shardTakeOver(t *testing.T, agents []*agent, addr string, n authServer, zones []string) {
	names := []string{"lbd1", "lbd2", "lbd3"}
	owners := shard.Assign(zones, names)
	// The instance to kill: the one owning the most zones (the hash gives
	// every instance at least one of these six).
	victim := names[0]
	for _, name := range names {
		require.NotEmpty(t, shard.Owned(owners, name), "%s owns no zone: pick other names", name)
		if len(shard.Owned(owners, name)) > len(shard.Owned(owners, victim)) {
			victim = name
		}
	}
	t.Logf("owners %v; victim %s owns %v", owners, victim, shard.Owned(owners, victim))

	insts := startShard(t, addr, agents[0].Port, names, zones)
	start := map[string]int{}

	// Every zone published by its owner, under the owner's lease.
	waitFor(t, 40*shardInterval, func() bool {
		for _, z := range zones {
			if got := addrsOf(t, n, z); !equal(got, []string{"127.0.0.2"}) || leaseHolder(t, n, z) != owners[z] {
				return false
			}
		}
		return true
	})
	// Each owner logged its writes (the log line follows the UPDATE).
	waitFor(t, 10*shardInterval, func() bool {
		for _, inst := range insts {
			w := inst.writes(t, 0, -1)
			for _, z := range shard.Owned(owners, inst.name) {
				if w[z] == 0 {
					return false
				}
			}
		}
		return true
	})
	requireSingleWriters(t, insts, start, nil, owners, "all three live")
	for _, inst := range insts {
		sh := shardStatus(t, inst)
		require.Equal(t, names, sh.Live, inst.name)
		require.Len(t, sh.Zones, len(zones))
		for _, z := range sh.Zones {
			require.Equal(t, owners[z.Zone], z.Owner, "%s: owner of %s", inst.name, z.Zone)
			require.Equal(t, owners[z.Zone] == inst.name, z.Mine)
		}
	}
	// For many heartbeat intervals the leases stay where they are.
	for i := 0; i < 10; i++ {
		for _, z := range zones {
			require.Equal(t, owners[z], leaseHolder(t, n, z), "sample %d, zone %s", i, z)
		}
		time.Sleep(shardInterval / 2)
	}
	requireSingleWriters(t, insts, start, nil, owners, "all three live, steady")

	// Kill the victim.
	var survivors []*shardInstance
	var live []string
	after := map[string]int{}
	for _, inst := range insts {
		after[inst.name] = len(inst.log.String())
		if inst.name == victim {
			require.NoError(t, inst.cmd.Process.Signal(syscall.SIGKILL))
			continue
		}
		survivors = append(survivors, inst)
		live = append(live, inst.name)
	}
	killed := time.Now()
	requireSingleWriters(t, insts, start, after, owners, "until the kill")
	for _, inst := range insts {
		for _, line := range strings.Split(inst.log.String()[:after[inst.name]], "\n") {
			require.NotContains(t, line, `"level":"warning"`, "%s, all three live", inst.name)
			require.NotContains(t, line, `"level":"error"`, "%s, all three live", inst.name)
		}
	}
	next := shard.Assign(zones, live)
	moved := shard.Owned(owners, victim)
	require.Equal(t, moved, shard.Moved(owners, next), "only the victim's zones move")
	waitFor(t, 20*shardInterval, func() bool {
		for _, z := range moved {
			if leaseHolder(t, n, z) != next[z] {
				return false
			}
		}
		return true
	})
	t.Logf("victim's leases held by their new owners %v after the kill", time.Since(killed).Round(10*time.Millisecond))
	for _, inst := range survivors {
		waitFor(t, 10*shardInterval, func() bool { return strings.Contains(inst.log.String(), "shard: peer heartbeat stale") })
	}

	// The survivors follow the members: drain the best one everywhere.
	agents[0].nologin(t, true)
	waitFor(t, 20*shardInterval, func() bool {
		for _, z := range zones {
			if got := addrsOf(t, n, z); !equal(got, []string{"127.0.0.3"}) {
				return false
			}
		}
		return true
	})
	for _, z := range zones {
		require.Equal(t, next[z], leaseHolder(t, n, z), "zone %s", z)
	}
	waitFor(t, 10*shardInterval, func() bool {
		for _, inst := range survivors {
			w := inst.writes(t, after[inst.name], -1)
			for _, z := range shard.Owned(next, inst.name) {
				if w[z] == 0 {
					return false // every survivor wrote each of its zones after the kill
				}
			}
		}
		return true
	})
	requireSingleWriters(t, survivors, after, nil, next, "after the kill")
	for _, inst := range survivors {
		sh := shardStatus(t, inst)
		require.Equal(t, live, sh.Live, inst.name)
		for _, z := range sh.Zones {
			require.Equal(t, next[z.Zone], z.Owner, "%s: owner of %s", inst.name, z.Zone)
			if z.Mine {
				for view, l := range z.Leases {
					require.True(t, l.Writing, "%s: lease of %s in %s: %+v", inst.name, z.Zone, view, l)
				}
			}
		}
	}

	// The victim comes back: its zones return to it, and it writes them.
	var dead *shardInstance
	for _, inst := range insts {
		if inst.name == victim {
			dead = inst
		}
	}
	comeBack(t, n, dead, survivors, zones, owners)
	agents[0].nologin(t, false)
	waitFor(t, 20*shardInterval, func() bool {
		for _, z := range zones {
			if got := addrsOf(t, n, z); !equal(got, []string{"127.0.0.2"}) {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*shardInterval, func() bool {
		for _, z := range moved {
			if dead.writes(t, 0, -1)[z] == 0 {
				return false // the restarted instance writes its zones again
			}
		}
		return true
	})
	for i := 0; i < 6; i++ {
		for _, z := range zones {
			require.Equal(t, owners[z], leaseHolder(t, n, z), "sample %d, zone %s", i, z)
		}
		time.Sleep(shardInterval / 2)
	}
	requireQuiet(t, insts)
}

// requireQuiet fails on any error, and any warning but a stale peer or a
// drained member, in the instances' logs: no lease lost, no drift, no
// failed update.
func requireQuiet(t *testing.T, insts []*shardInstance) {
	t.Helper()
	for _, inst := range insts {
		for _, line := range strings.Split(inst.log.String(), "\n") {
			require.NotContains(t, line, `"level":"error"`, inst.name)
			if strings.Contains(line, `"level":"warning"`) {
				require.True(t, strings.Contains(line, "shard: peer heartbeat stale") || strings.Contains(line, "member not usable"),
					"%s: unexpected warning %s", inst.name, line)
			}
		}
	}
}

// A killed instance that comes back gets its zones back at once: the
// survivors see its beat, hand its zones' leases back (release) and it
// takes them, then writes them.
func comeBack(t *testing.T, n authServer, victim *shardInstance, survivors []*shardInstance, zones []string, owners map[string]string) {
	t.Helper()
	victim.start(t)
	back := time.Now()
	waitFor(t, 20*shardInterval, func() bool {
		for _, z := range zones {
			if leaseHolder(t, n, z) != owners[z] {
				return false
			}
		}
		return true
	})
	t.Logf("zones back with their owner %v after the restart", time.Since(back).Round(10*time.Millisecond))
	for _, inst := range survivors {
		if len(shard.Owned(shard.Assign(zones, []string{survivors[0].name, survivors[1].name}), inst.name)) > len(shard.Owned(owners, inst.name)) {
			require.Contains(t, inst.log.String(), "lease handed back", inst.name)
		}
	}
}

type shardZoneStatus struct {
	Zone   string `json:"zone"`
	Owner  string `json:"owner"`
	Mine   bool   `json:"mine"`
	Leases map[string]struct {
		Writing bool   `json:"writing"`
		Holder  string `json:"holder"`
	} `json:"leases"`
}

type shardStatusJSON struct {
	Live  []string          `json:"live"`
	Zones []shardZoneStatus `json:"zones"`
}

// shardStatus is the shard section of the instance's /status.
func shardStatus(t *testing.T, inst *shardInstance) shardStatusJSON {
	t.Helper()
	var st struct {
		Shard *shardStatusJSON `json:"shard"`
	}
	require.NoError(t, json.Unmarshal([]byte(statusOf(t, "http://"+inst.http+"/status")), &st))
	require.NotNil(t, st.Shard, "%s: /status has no shard section", inst.name)
	return *st.Shard
}

// A partition between the instances (each still reaching DNS and the
// members): every instance believes the others dead and owns, by its view,
// their zones too, but each keeps renewing the leases of its own, so the
// others wait on them: every zone keeps exactly one writer, its owner, and
// follows its members; when the partition heals nothing moves.
func TestShardPartitionKeepsOneWriterOnBIND(t *testing.T) {
	agents := startThreeAgents(t)
	names := []string{"lbd1", "lbd2", "lbd3"}
	var zones []string
	for i := range 6 {
		zones = append(zones, fmt.Sprintf("p%d.shard.test", i))
	}
	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: zones,
		Keys: []tsig.Spec{lbdKey}})
	owners := shard.Assign(zones, names)
	// One cuttable proxy per instance, in front of its heartbeat; the
	// targets are known once the instances have their ports, so the
	// proxies forward to an address set after startShardVia chose them.
	targets := map[string]*atomic.Value{}
	proxies := map[string]*partition{}
	for _, name := range names {
		target := &atomic.Value{}
		target.Store("")
		targets[name] = target
		proxies[name] = newLazyPartition(t, target)
	}
	insts := startShardVia(t, n.Addr, agents[0].Port, names, zones, func(from, to string) string {
		return strings.TrimPrefix(proxies[to].srv.URL, "http://")
	})
	for _, inst := range insts {
		targets[inst.name].Store(inst.http)
	}
	settled := func(want string) func() bool {
		return func() bool {
			for _, z := range zones {
				if got := addrsOf(t, n, z); !equal(got, []string{want}) || leaseHolder(t, n, z) != owners[z] {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 40*shardInterval, settled("127.0.0.2"))
	for _, inst := range insts {
		waitFor(t, 20*shardInterval, func() bool { return equal(shardStatus(t, inst).Live, names) })
	}

	// Cut every heartbeat: each instance sees the others go stale.
	from := map[string]int{}
	for _, inst := range insts {
		from[inst.name] = len(inst.log.String())
	}
	for _, p := range proxies {
		p.cut.Store(true)
	}
	for _, inst := range insts {
		waitFor(t, 20*shardInterval, func() bool { return equal(shardStatus(t, inst).Live, []string{inst.name}) })
	}
	// For many heartbeat intervals every lease stays with its owner.
	for i := 0; i < 12; i++ {
		for _, z := range zones {
			require.Equal(t, owners[z], leaseHolder(t, n, z), "sample %d, zone %s: the lease moved during the partition", i, z)
		}
		time.Sleep(shardInterval / 2)
	}
	// The zones still follow their members, written by their owners only.
	agents[0].nologin(t, true)
	waitFor(t, 20*shardInterval, settled("127.0.0.3"))
	requireSingleWriters(t, insts, from, nil, owners, "partitioned")

	// Heal: nothing moves.
	for _, p := range proxies {
		p.cut.Store(false)
	}
	for _, inst := range insts {
		waitFor(t, 20*shardInterval, func() bool { return equal(shardStatus(t, inst).Live, names) })
	}
	agents[0].nologin(t, false)
	waitFor(t, 20*shardInterval, settled("127.0.0.2"))
	requireSingleWriters(t, insts, from, nil, owners, "partitioned, then healed")
	requireQuiet(t, insts)
}

// newLazyPartition is newPartition to the "host:port" in target, read at
// each request (set once the target is known).
func newLazyPartition(t *testing.T, target *atomic.Value) *partition {
	t.Helper()
	p := &partition{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, _ := target.Load().(string)
		if p.cut.Load() || addr == "" {
			http.Error(w, "partitioned", http.StatusServiceUnavailable)
			return
		}
		u, err := url.Parse("http://" + addr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}
