package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/knotconf"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/config"
)

const (
	benchZone     = "lb.bench"
	benchPassword = "bench-auth-password"
	keyName       = "lbd-internal."
)

// cycleLine is lbd's debug "cycle" log line (-log-level debug -log-json).
type cycleLine struct {
	Msg          string  `json:"msg"`
	Aliases      int     `json:"aliases"`
	Members      int     `json:"members"`
	Addresses    int     `json:"addresses"`
	Failed       int     `json:"failed_addresses"`
	PollSeconds  float64 `json:"poll_seconds"`
	DNSSeconds   float64 `json:"dns_seconds"`
	CycleSeconds float64 `json:"cycle_seconds"`
	// AnsweredSeconds: when the last alias none of whose members was
	// silent was written (streaming cycle), since the cycle started.
	AnsweredSeconds float64 `json:"answered_written_seconds"`
	Batches         int     `json:"batches"`
}

func parseCycle(stderr []byte) (cycleLine, bool) {
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var c cycleLine
		if json.Unmarshal(sc.Bytes(), &c) == nil && c.Msg == "cycle" {
			return c, true
		}
	}
	return cycleLine{}, false
}

// pollSection: one lbd -once cycle over an lbsim farm, for every size,
// SNMP version and silent fraction.
func pollSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "Poll cycle (lbd -once against an lbsim farm, steady-state run)",
		cols: []string{"members", "aliases", "SNMP", "silent", "cycle s", "poll s", "dns s", "answered written s", "batches", "lbd wall s", "lbd CPU s", "max RSS MB", "polls/s", "failed", "1st run cycle s"}}
	if o.daemonCycles > 0 {
		t.cols = append(t.cols, "daemon steady s")
		t.note("daemon steady s: the median of %d full cycles of lbd run as a daemon (tick 200 ms, polling_interval 1 s) after its first", o.daemonCycles)
	}
	t.note("method: bin/lbsim (own process, addresses from 127.1.0.1, -walk 0 = fixed loads, -seed 1) emits the [[alias]] tables; lbd.toml = role master, workers 1024, embedded [authoritative] server on 127.0.0.1 serving zone %s; "+
		"`bin/lbd -config F -once -log-level debug -log-json` runs twice, the first publishes every alias, the second (reported) is the steady state", benchZone)
	t.note("[snmp] timeout %v, retries %d; v3 = authNoPriv MD5. Each -once run is a new process with [lbd] state_dir set, as a packaged lbd has: the first run discovers every agent's SNMPv3 engine and saves them (<state_dir>/snmp-engines), the second (reported) starts from that file, as a restarted lbd does; its DNS reads have no serial cache (a new process)", o.snmpTimeout, o.snmpRetries)
	t.note("answered written s: when the last alias none of whose members is silent had been written (the streaming cycle decides an alias as soon as its own members answered), since the cycle started; batches: how many decide-and-write rounds the cycle made; dns s: the time spent in them (overlapping the polls)")
	t.note("cycle/poll/dns s: the cycle log line; lbd wall = the whole process, start to exit; CPU = rusage utime+stime of the whole lbd process (start-up, config, embedded DNS server included); max RSS = rusage maxrss; polls/s = addresses / poll s (silent members included)")
	t.note("targets (docs/design.md §6): 10,000 members / 1,000 aliases SNMPv3 ≤ 2 s wall, ≤ 150 MB RSS; 10 %% silent adds at most one timeout (%v)", o.snmpTimeout)
	for _, sz := range o.pollSizes {
		for _, ver := range []string{"2c", "3"} {
			for _, silent := range []float64{0, 0.1} {
				if ctx.Err() != nil {
					t.fail("interrupted: %v", context.Cause(ctx))
					return []*table{t}
				}
				name := fmt.Sprintf("m%d-a%d-v%s-s%02.0f", sz.members, sz.aliases, ver, silent*100)
				progress("poll %s", name)
				row, err := pollOne(ctx, o, filepath.Join(dir, name), pollRun{size: sz, ver: ver, silent: silent, daemonCycles: o.daemonCycles})
				if err != nil {
					t.fail("%d members, v%s, silent %.0f %%: %v", sz.members, ver, silent*100, err)
					continue
				}
				t.row(row...)
			}
		}
	}
	return []*table{t, streamTable(ctx, o, dir), largeTable(ctx, o, dir)}
}

// largeTable measures issue 13's target for one lbd in front of 100,000
// members / 10,000 aliases (shared zones), SNMPv3.
func largeTable(ctx context.Context, o options, dir string) *table {
	t := &table{title: "100,000 members / 10,000 aliases (lbd -once and daemon, one shared zone, SNMPv3)",
		cols: []string{"members", "aliases", "SNMP", "silent", "cycle s", "poll s", "dns s", "answered written s", "batches", "lbd wall s", "lbd CPU s", "max RSS MB", "polls/s", "failed", "1st run cycle s", "1st run max RSS MB", "daemon steady s"}}
	t.note("method: as the poll section (its [snmp] timeout and retries); 'cycle s' and 'max RSS MB' are of the second -once run (a restarted lbd: engines from state_dir), '1st run …' of the first (every agent discovered, every alias written), 'daemon steady s' the median of 3 full cycles of lbd run as a daemon after its first")
	t.note("target (issue 13): one cycle ≤ 4 s wall and ≤ 600 MB RSS")
	sz := size{100000, 10000}
	if o.quick {
		sz = size{20000, 2000}
	}
	name := fmt.Sprintf("m%d-a%d-v3-large", sz.members, sz.aliases)
	progress("poll %s", name)
	row, err := pollOne(ctx, o, filepath.Join(dir, name), pollRun{size: sz, ver: "3", daemonCycles: 3, firstRSS: true})
	if err != nil {
		t.fail("%s: %v", name, err)
		return t
	}
	t.row(row...)
	return t
}

// streamTable measures issue 13's streaming target: 1,000 members / 100
// aliases, 10 % silent, with lbd's default [snmp] timeout and retries.
func streamTable(ctx context.Context, o options, dir string) *table {
	t := &table{title: "Streaming cycle with lbd's default SNMP timeouts (lbd -once, 10 % of the members silent)",
		cols: []string{"members", "aliases", "SNMP", "silent", "cycle s", "poll s", "dns s", "answered written s", "batches", "lbd wall s", "lbd CPU s", "max RSS MB", "polls/s", "failed", "1st run cycle s"}}
	def := config.Defaults().SNMP
	t.note("method: as the poll section, but lbd.toml sets no [snmp] timeout or retries: lbd's defaults, timeout %v, retries %d (a silent member costs %v)",
		def.Timeout.Duration, def.Retries, def.Timeout.Duration*time.Duration(1+def.Retries))
	t.note("target (issue 13): aliases without a silent member published ≤ 0.3 s after the cycle starts ('answered written s'); the cycle ends ≤ one timeout later")
	sz := size{1000, 100}
	if o.quick {
		sz = size{200, 20}
	}
	for _, ver := range []string{"2c", "3"} {
		if ctx.Err() != nil {
			t.fail("interrupted: %v", context.Cause(ctx))
			break
		}
		name := fmt.Sprintf("m%d-a%d-v%s-s10-defaults", sz.members, sz.aliases, ver)
		progress("poll %s", name)
		row, err := pollOne(ctx, o, filepath.Join(dir, name), pollRun{size: sz, ver: ver, silent: 0.1, defaultSNMP: true})
		if err != nil {
			t.fail("%s: %v", name, err)
			continue
		}
		t.row(row...)
	}
	return t
}

// pollRun is one farm and DNS layout of the poll measurements.
type pollRun struct {
	size   size
	ver    string
	silent float64
	// zonePerAlias: every alias is its own zone, served by a throwaway
	// named with namedThreads worker threads (CERN's layout), or knotd
	// with knot set; otherwise every alias is in one zone of lbd's
	// embedded server.
	zonePerAlias bool
	namedThreads int
	knot         bool
	knotSync     knotconf.Sync // what knot syncs at each update
	// defaultSNMP: lbd.toml sets no [snmp] timeout or retries.
	defaultSNMP bool
	// firstRSS adds the first run's max RSS before the daemon column.
	firstRSS bool
	// daemonCycles > 0 also runs lbd as a daemon (every alias due every
	// cycle) until it has made that many full cycles after its first, and
	// adds their median as the last column.
	daemonCycles int
}

// zonesSection: the poll cycle when every alias is its own zone (CERN's
// layout), written into named, first cycle (every zone published: lease,
// ownership record and records created) and steady state.
func zonesSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "Zone per alias (lbd -once against an lbsim farm, one DNS server zone per alias)",
		cols: []string{"members", "aliases", "SNMP", "server", "cycle s", "poll s", "dns s", "answered written s", "batches", "lbd wall s", "lbd CPU s", "max RSS MB", "polls/s", "failed", "1st run cycle s", "1st run lbd CPU s", "1st run server CPU s", "1st run lbsim CPU s", "daemon steady s", "server alone s", "server alone CPU s"}}
	t.note("method: as the poll section, but every alias is its own zone (zone = name), served by one throwaway named (`named -g -4 -n N`, update-policy grant zonesub ANY for one hmac-sha256 key) or knotd (its default workers and journal, an acl with action update for the key; 'knot journal-only' syncs its journal but never rewrites the zone files, zonefile-sync -1, still durable: knot.conf(5) says Knot serves the latest zone after a restart from its journal; 'knot no-sync' syncs nothing to disk at each update: journal-db-mode asynchronous too, not durable, there to tell the server's durability cost from lbd's); lbd writes with fencing on (the default), so the first run creates every zone's lease and ownership record; the first run is '1st run cycle s', the second (steady state: nothing to write) is 'cycle s'; 'daemon steady s' is the median of 5 full cycles of lbd run as a daemon (tick 200 ms, polling_interval 1 s) after its first: engines discovered, sockets open, nothing to write")
	t.note("the '1st run … CPU s' columns are the CPU time lbd, the DNS server and lbsim used while the first lbd run lasted (server and lbsim from /proc/PID/stat), all three on the same cores")
	t.note("the server's directory (zone files; named's journals, fsynced on every update; Knot's LMDB journal) is under the work directory: %s", dir)
	t.note("'server alone s': after lbd's runs, with that server stopped, a fresh server of the same kind and settings, in the same directory tree and serving as many zones of its own, is sent the first UPDATE of each zone by dnsupdate.Client.ApplyEach as lbd writes (TSIG, ≤ 64 zones in flight), two A records each, no prerequisites, lease or ownership record, no polls beside it; its wall time is a lower bound on a first cycle against that server on that disk, 'server alone CPU s' the server's CPU meanwhile")
	t.note("targets (issue 13): 10,000 members / 1,000 aliases, zone per alias: first cycle ≤ 0.8 s wall, steady state ≤ 0.5 s")
	sz := size{10000, 1000}
	if o.quick {
		sz = size{1000, 100}
	}
	for _, srv := range []struct {
		name    string
		threads int
		knot    bool
		sync    knotconf.Sync
	}{{"named -n 1", 1, false, 0}, {"named -n 2", 2, false, 0}, {"knot", 0, true, knotconf.SyncAll},
		{"knot journal-only", 0, true, knotconf.SyncJournal}, {"knot no-sync", 0, true, knotconf.SyncNothing}} {
		if ctx.Err() != nil {
			t.fail("interrupted: %v", context.Cause(ctx))
			break
		}
		name := fmt.Sprintf("m%d-a%d-%s", sz.members, sz.aliases, strings.ReplaceAll(strings.ReplaceAll(srv.name, " -n ", "-n"), " ", ""))
		progress("zones %s", name)
		row, err := pollOne(ctx, o, filepath.Join(dir, name), pollRun{size: sz, ver: "3", zonePerAlias: true, namedThreads: srv.threads, knot: srv.knot, knotSync: srv.sync, daemonCycles: 5})
		if errors.Is(err, errSkip) {
			t.note("%s: skipped: %v", srv.name, err)
			continue
		}
		if err != nil {
			t.fail("%s: %v", name, err)
			continue
		}
		t.row(append(append([]string{}, row[:3]...), append([]string{srv.name}, row[4:]...)...)...)
	}
	return []*table{t}
}

func pollOne(ctx context.Context, o options, dir string, run pollRun) ([]string, error) {
	sz, ver := run.size, run.ver
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	sim, port, aliases, err := startFarm(ctx, o, dir, run)
	if err != nil {
		return nil, err
	}
	defer sim.stop(3 * time.Second)
	dnsPort, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}

	secret := newSecret()
	var snmp string
	if ver == "2c" {
		snmp = fmt.Sprintf("version = \"2c\"\ncommunity = \"public\"\n")
	} else {
		snmp = fmt.Sprintf("version = \"3\"\nuser = \"loadbalancing\"\nauth_protocol = \"md5\"\nauth_password = %q\n", benchPassword)
	}
	timeouts := fmt.Sprintf("timeout = %q\nretries = %d\n", o.snmpTimeout.String(), o.snmpRetries)
	if run.defaultSNMP {
		timeouts = ""
	}
	aliases, dnsConf, dnsSrv, stopDNS, err := pollDNS(ctx, dir, run, aliases, secret, dnsPort)
	if err != nil {
		return nil, err
	}
	var dnsProc *proc
	if dnsSrv != nil {
		dnsProc = dnsSrv.p
	}
	defer stopDNS()
	conf := fmt.Sprintf(`[lbd]
role = "master"
workers = 1024
state_dir = %q

[snmp]
%sport = %d
%s
[defaults]
best_hosts = 2
ttl = "60s"

%s
`, filepath.Join(dir, "state"), snmp, port, timeouts, dnsConf)
	cfgPath := filepath.Join(dir, "lbd.toml")
	if err := os.WriteFile(cfgPath, append([]byte(conf), aliases...), 0o644); err != nil {
		return nil, err
	}

	var runs [2]runResult
	var cycles [2]cycleLine
	var dnsCPU, simCPU time.Duration // during the first run
	for i := range runs {
		dns0, sim0 := dnsProc.cpuTime(), sim.cpuTime()
		args := []string{"-config", cfgPath, "-once", "-hostname", "bench-master", "-log-level", "debug", "-log-json"}
		if o.profile {
			args = append(args, "-cpuprofile", filepath.Join(dir, fmt.Sprintf("lbd-run%d.prof", i+1)))
		}
		r, err := runOnce(ctx, filepath.Join(o.bin, "lbd"), args...)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("lbd-run%d.log", i+1)), append(r.stdout, r.stderr...), 0o644)
		if err != nil {
			return nil, fmt.Errorf("lbd run %d: %v", i+1, err)
		}
		if r.exit != nil {
			return nil, fmt.Errorf("lbd run %d: %v: %s", i+1, r.exit, lastLines(r.stderr, 3))
		}
		c, ok := parseCycle(r.stderr)
		if !ok {
			return nil, fmt.Errorf("lbd run %d: no \"cycle\" log line: %s", i+1, lastLines(r.stderr, 3))
		}
		runs[i], cycles[i] = r, c
		if i == 0 {
			dnsCPU, simCPU = dnsProc.cpuTime()-dns0, sim.cpuTime()-sim0
		}
		debugf("run %d: wall %v cpu %v rss %d KiB cycle %+v", i+1, r.wall, r.cpu, r.maxRSSKiB, c)
	}
	if !sim.running() {
		return nil, fmt.Errorf("lbsim died: %s", sim.Tail())
	}
	row := pollRow(run, runs, cycles)
	if run.zonePerAlias {
		row = append(row, secs(runs[0].cpu), secs(dnsCPU), secs(simCPU))
	}
	if run.firstRSS {
		row = append(row, fmt.Sprintf("%.1f", float64(runs[0].maxRSSKiB)/1024))
	}
	if run.daemonCycles > 0 {
		med, err := daemonSteady(ctx, o, dir, conf, aliases, sz.aliases, run.daemonCycles)
		if err != nil {
			return nil, fmt.Errorf("daemon: %v", err)
		}
		row = append(row, fsecs(med))
	}
	if run.zonePerAlias {
		stopDNS() // its CPU and disk are not shared with the next server
		wall, cpu, err := serverAlone(ctx, filepath.Join(dir, "alone"), run, secret, sz.aliases)
		if err != nil {
			return nil, fmt.Errorf("server alone: %v", err)
		}
		row = append(row, fsecs(wall.Seconds()), secs(cpu))
	}
	return row, nil
}

// startFarm starts the run's lbsim farm in dir on a port free on its
// first and last address (the farm binds every address in between on it),
// and returns it with its port and the [[alias]] tables it emitted.
func startFarm(ctx context.Context, o options, dir string, run pollRun) (sim *proc, port int, aliases []byte, err error) {
	sz, ver := run.size, run.ver
	for range 20 {
		p, err := freePort("127.0.0.1")
		if err != nil {
			return nil, 0, nil, err
		}
		if udpPortFree(p, "127.1.0.1", "127.1.0.2") {
			port = p
			break
		}
	}
	if port == 0 {
		return nil, 0, nil, fmt.Errorf("no free UDP port")
	}
	aliasFile := filepath.Join(dir, "aliases.toml")
	args := []string{"-members", fmt.Sprint(sz.members), "-aliases", fmt.Sprint(sz.aliases),
		"-port", fmt.Sprint(port), "-base", "127.1.0.1", "-version", ver, "-zone", benchZone,
		"-silent", fmt.Sprint(run.silent), "-walk", "0", "-seed", "1", "-emit-config", aliasFile}
	if ver == "2c" {
		args = append(args, "-community", "public")
	} else {
		args = append(args, "-user", "loadbalancing", "-auth-protocol", "md5", "-auth-password", benchPassword)
	}
	simStart := time.Now()
	sim, err = startProc(filepath.Join(o.bin, "lbsim"), filepath.Join(dir, "lbsim.log"), "ready", args...)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := sim.waitReady(ctx, 90*time.Second); err != nil {
		sim.stop(3 * time.Second)
		return nil, 0, nil, err
	}
	debugf("lbsim ready in %v", time.Since(simStart))
	if aliases, err = os.ReadFile(aliasFile); err != nil {
		sim.stop(3 * time.Second)
		return nil, 0, nil, err
	}
	return sim, port, aliases, nil
}

// pollRow is the common part of a poll run's row: the second (reported)
// run's cycle and process, and the first run's cycle.
func pollRow(run pollRun, runs [2]runResult, cycles [2]cycleLine) []string {
	r, c := runs[1], cycles[1]
	return []string{fmt.Sprint(run.size.members), fmt.Sprint(run.size.aliases), "v" + run.ver, fmt.Sprintf("%.0f %%", run.silent*100),
		fsecs(c.CycleSeconds), fsecs(c.PollSeconds), fsecs(c.DNSSeconds), fsecs(c.AnsweredSeconds), fmt.Sprint(c.Batches), secs(r.wall), secs(r.cpu),
		fmt.Sprintf("%.1f", float64(r.maxRSSKiB)/1024), rate(float64(c.Addresses) / c.PollSeconds),
		fmt.Sprint(c.Failed), fsecs(cycles[0].CycleSeconds)}
}

// startServer starts the zone-per-alias run's DNS server (named or knotd)
// in dir serving zones.
func startServer(ctx context.Context, dir string, run pollRun, zones []string, secret string) (*dnsServer, error) {
	if run.knot {
		return startKnot(ctx, filepath.Join(dir, "knot"), zones, secret, run.knotSync)
	}
	return startNamed(ctx, filepath.Join(dir, "named"), zones, secret, run.namedThreads)
}

// serverAlone measures what a fresh server of the run's kind, started in
// dir with n zones of its own, takes alone to accept the first UPDATE of
// each: two A records each, sent by dnsupdate.Client.ApplyEach as lbd
// sends its writes (TSIG, at most DefaultZonesInFlight zones in flight),
// with no polling beside it and none of lbd's prerequisites, lease or
// ownership records. It is a lower bound on a first cycle against that
// server on that disk. cpu is the server's CPU time meanwhile.
func serverAlone(ctx context.Context, dir string, run pollRun, secret string, n int) (wall, cpu time.Duration, err error) {
	zones := make([]string, n)
	for i := range zones {
		zones[i] = fmt.Sprintf("f%05d.alone.bench", i+1)
	}
	srv, err := startServer(ctx, dir, run, zones, secret)
	if err != nil {
		return 0, 0, err
	}
	defer srv.p.stop(5 * time.Second)
	key, err := tsig.Compile(keyName, "hmac-sha256", secret)
	if err != nil {
		return 0, 0, err
	}
	c := &dnsupdate.Client{Server: srv.addr, Timeout: 5 * time.Second, Key: key}
	changes := make([]dnsupdate.Change, len(zones))
	for i, z := range zones {
		addrs := []netip.Addr{netip.AddrFrom4([4]byte{127, 20, byte(i >> 8), byte(i)}), netip.AddrFrom4([4]byte{127, 21, byte(i >> 8), byte(i)})}
		changes[i] = dnsupdate.Diff(z, z, dnsupdate.State{TTL: 60}, addrs, 60)
	}
	cpu0 := srv.p.cpuTime()
	t0 := time.Now()
	res := c.ApplyEach(ctx, changes)
	wall, cpu = time.Since(t0), srv.p.cpuTime()-cpu0
	for z, err := range res {
		if err != nil {
			return 0, 0, fmt.Errorf("zone %s: %v", z, err)
		}
	}
	return wall, cpu, nil
}

// daemonSteady runs lbd as a daemon on conf (tick 200 ms, every alias due
// every second) and returns the median cycle_seconds of n full cycles
// (every alias evaluated) after its first: the steady state of a running
// lbd, SNMPv3 engines discovered and sockets open.
func daemonSteady(ctx context.Context, o options, dir, conf string, aliases []byte, nAliases, n int) (float64, error) {
	conf = strings.Replace(conf, "[lbd]\n", "[lbd]\ntick = \"200ms\"\n", 1)
	conf = strings.Replace(conf, "[defaults]\n", "[defaults]\npolling_interval = \"1s\"\n", 1)
	path := filepath.Join(dir, "lbd-daemon.toml")
	if err := os.WriteFile(path, append([]byte(conf), aliases...), 0o644); err != nil {
		return 0, err
	}
	logPath := filepath.Join(dir, "lbd-daemon.log")
	p, err := startProc(filepath.Join(o.bin, "lbd"), logPath, "", "-config", path, "-hostname", "bench-master",
		"-log-level", "debug", "-log-json")
	if err != nil {
		return 0, err
	}
	defer p.stop(5 * time.Second)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return 0, err
		}
		if !p.running() {
			return 0, fmt.Errorf("lbd daemon exited: %s", p.Tail())
		}
		b, _ := os.ReadFile(logPath)
		var full []float64
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var c cycleLine
			if json.Unmarshal(sc.Bytes(), &c) == nil && c.Msg == "cycle" && c.Aliases == nAliases {
				full = append(full, c.CycleSeconds)
			}
		}
		if len(full) > n {
			steady := slices.Clone(full[1 : n+1])
			slices.Sort(steady)
			return steady[len(steady)/2], nil
		}
	}
	return 0, fmt.Errorf("no %d full cycles within 2 minutes: %s", n+1, p.Tail())
}

// pollDNS is the [dns] (and [authoritative]) part of a poll run's
// lbd.toml: with zonePerAlias every alias becomes its own zone (the alias
// tables are rewritten) served by a throwaway named; otherwise lbd's
// embedded server serves one shared zone. stop ends the named, if any.
func pollDNS(ctx context.Context, dir string, run pollRun, aliases []byte, secret string, dnsPort int) (tables []byte, dnsConf string, server *dnsServer, stop func(), err error) {
	stop = func() {}
	if !run.zonePerAlias {
		return aliases, fmt.Sprintf(`[dns]
internal_key = { name = %q, algorithm = "hmac-sha256", secret = %q }
timeout = "5s"

[authoritative]
listen = "127.0.0.1:%d"
data_dir = %q
keys = [{ name = %q, algorithm = "hmac-sha256", secret = %q }]

[[authoritative.zone]]
name = %q
ns = ["ns1.%s."]
update_keys = [%q]
`, keyName, secret, dnsPort, filepath.Join(dir, "dns"), keyName, secret, benchZone, benchZone, keyName), nil, stop, nil
	}
	// Every alias its own zone: zone = name, and named serves them all.
	var zones []string
	var b strings.Builder
	for _, line := range strings.Split(string(aliases), "\n") {
		if name, ok := strings.CutPrefix(line, "name = "); ok {
			zones = append(zones, strings.Trim(name, `"`))
		}
		if strings.HasPrefix(line, "zone = ") {
			line = "zone = " + strconv.Quote(zones[len(zones)-1])
		}
		b.WriteString(line + "\n")
	}
	nd, err := startServer(ctx, dir, run, zones, secret)
	if err != nil {
		return nil, "", nil, stop, err
	}
	return []byte(b.String()),
		fmt.Sprintf("[dns]\nserver = %q\ninternal_key = { name = %q, algorithm = \"hmac-sha256\", secret = %q }\ntimeout = \"5s\"\n", nd.addr, keyName, secret),
		nd, func() { nd.p.stop(5 * time.Second) }, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
