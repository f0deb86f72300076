package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/lbd/shard"
)

// The shard section's settings: three instances, six zones (one alias
// each), the heartbeat of the failover section.
const (
	shardHB       = time.Second
	shardStale    = 2*shardHB + time.Second // lbd's default with peers: not written to the configuration
	shardZoneFmt  = "z%d.shard.bench"
	shardNZones   = 6
	shardInstFmt  = "bench-lbd%d"
	shardNInst    = 3
	shardPolling  = time.Second
	shardMaxWait  = 30 * time.Second
	shardBackWait = 20 * time.Second
)

// shardSection: one of three sharded lbd instances is SIGKILLed → each of
// its zones is written by its new owner among the survivors.
func shardSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "Shard take-over (one of 3 sharded lbd SIGKILLed → each of its zones written by its new owner, into named)",
		cols: []string{"what", "samples", "median s", "max s", "median intervals", "max intervals", "samples s"}}
	t.note("method: a throwaway named serves %d zones (%s…), one alias each (the zone's apex, members 127.0.0.2–4, best_hosts 2); 3 bin/lbd instances with [lbd] peers = the other two ([heartbeat] interval %s, stale_after %s (its default with peers, not set), lease_ttl default 2 × interval, polling_interval %s, tick 1s) poll the same 3 lbclient agents (SNMPv3 MD5, [agent] interval %s); "+
		"per sample: wait until every zone answers %q and its lease is held by its rendezvous owner, pause 0–1 s at random, SIGKILL one instance (in turn), at once create /etc/nologin on 127.0.0.2, and time, for each zone of the killed instance, until named answers %q (A query every 10 ms): one sample per zone; "+
		"then remove nologin, start the instance again and time until it holds every lease of its zones (hand-back)",
		shardNZones, fmt.Sprintf(shardZoneFmt, 0), shardHB, shardStale, shardPolling, agentInterval, answerBest, answerDrained)
	t.note("expected (docs/design.md §9.7): the peer goes stale stale_after after its newest beat seen, which at the kill is 0 to interval + 1 s old (fetched every interval, whole seconds): 1–3 s after the kill, or when its lease's until passes if that is later (until ≤ last renewal + lease_ttl rounded up: ≤ 3 s); then one cycle (tick and the members' answers): about 1.5–4 s, i.e. 1.5–4 heartbeat intervals")
	progress("shard")
	take, back, err := shardRun(ctx, o, dir)
	add := func(what string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		med, mx := stats(d)
		t.row(what, fmt.Sprint(len(d)), secs(med), secs(mx), fmt.Sprintf("%.2f", med.Seconds()/shardHB.Seconds()),
			fmt.Sprintf("%.2f", mx.Seconds()/shardHB.Seconds()), list(d))
	}
	add("kill → zone written by its new owner", take)
	add("restart → its leases back (hand-back)", back)
	if err != nil {
		t.fail("%v", err)
	}
	return []*table{t}
}

// shardInst is one instance of the bench's shard.
type shardInst struct {
	name, http, cfg, log string
	p                    *proc
}

func (s *shardInst) start(bin string) error {
	p, err := startProc(filepath.Join(bin, "lbd"), s.log, "", "-config", s.cfg, "-hostname", s.name+".host")
	s.p = p
	return err
}

// status is the shard part of the instance's /status.
func (s *shardInst) status(ctx context.Context) (live []string, writing map[string]bool, err error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.http+"/status", nil)
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Shard *struct {
			Live  []string `json:"live"`
			Zones []struct {
				Zone   string `json:"zone"`
				Leases map[string]struct {
					Writing bool `json:"writing"`
				} `json:"leases"`
			} `json:"zones"`
		} `json:"shard"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, nil, err
	}
	if st.Shard == nil {
		return nil, nil, fmt.Errorf("%s: no shard section in /status", s.name)
	}
	writing = map[string]bool{}
	for _, z := range st.Shard.Zones {
		w := len(z.Leases) > 0
		for _, l := range z.Leases {
			w = w && l.Writing
		}
		writing[z.Zone] = w
	}
	return st.Shard.Live, writing, nil
}

// leaseHolderOf reads the holder= of zone's lease from server.
func leaseHolderOf(server, zone string) string {
	m := new(dns.Msg)
	m.SetQuestion("_lbd-lease."+dns.Fqdn(zone), dns.TypeTXT)
	m.RecursionDesired = false
	r, _, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, server)
	if err != nil || len(r.Answer) != 1 {
		return ""
	}
	txt, ok := r.Answer[0].(*dns.TXT)
	if !ok {
		return ""
	}
	for _, f := range strings.Fields(strings.Join(txt.Txt, "")) {
		if h, ok := strings.CutPrefix(f, "holder="); ok {
			return h
		}
	}
	return ""
}

// waitSettled waits until every zone answers want and its lease is held by
// its owner under owners.
func waitSettled(ctx context.Context, server string, zones []string, owners map[string]string, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		ok := true
		for _, z := range zones {
			got, _ := answerA(server, z, 200*time.Millisecond)
			if h := leaseHolderOf(server, z); got != want || h != owners[z] {
				ok, last = false, fmt.Sprintf("%s answers %q, lease holder %q (want %q, %q)", z, got, h, want, owners[z])
				break
			}
		}
		if ok {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("not settled after %v: %s", limit, last)
}

func writeShardConfig(inst *shardInst, all []*shardInst, dnsServer, secret string, snmpPort int, zones []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[lbd]\nrole = \"master\"\ngroup = \"bench-shard\"\ninstance = %q\nhttp_listen = %q\npeers = [\n", inst.name, inst.http)
	for _, p := range all {
		if p != inst {
			fmt.Fprintf(&b, "  { instance = %q, url = \"http://%s/load-balancing/heartbeat\" },\n", p.name, p.http)
		}
	}
	// stale_after is left to its default with peers (2 × interval + 1 s).
	fmt.Fprintf(&b, "]\n\n[heartbeat]\ninterval = %q\n", shardHB.String())
	fmt.Fprintf(&b, "\n[dns]\nserver = %q\ninternal_key = { name = %q, algorithm = \"hmac-sha256\", secret = %q }\ntimeout = \"2s\"\n", dnsServer, keyName, secret)
	fmt.Fprintf(&b, "\n[snmp]\nversion = \"3\"\nport = %d\nuser = \"loadbalancing\"\nauth_protocol = \"md5\"\nauth_password = %q\ntimeout = \"1s\"\nretries = 0\n",
		snmpPort, benchPassword)
	fmt.Fprintf(&b, "\n[defaults]\nbest_hosts = 2\nttl = \"60s\"\npolling_interval = %q\n", shardPolling.String())
	for _, z := range zones {
		fmt.Fprintf(&b, "\n[[alias]]\nname = %q\nmembers = [\"127.0.0.2\", \"127.0.0.3\", \"127.0.0.4\"]\n", z)
	}
	return os.WriteFile(inst.cfg, []byte(b.String()), 0o644)
}

// shardSetup is the running bench farm of the shard section.
type shardSetup struct {
	nd     *dnsServer
	agents *agentSet
	insts  []*shardInst
	names  []string
	zones  []string
	owners map[string]string // zone → owner with every instance live
}

func shardRun(ctx context.Context, o options, dir string) (take, back []time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.reps)*60*time.Second+60*time.Second)
	defer cancel()
	st := &shardSetup{}
	for i := range shardNZones {
		st.zones = append(st.zones, fmt.Sprintf(shardZoneFmt, i))
	}
	secret := newSecret()
	if st.nd, err = startNamed(ctx, filepath.Join(dir, "named"), st.zones, secret, 1); err != nil {
		return nil, nil, fmt.Errorf("named: %w", err)
	}
	defer st.nd.p.stop(5 * time.Second)
	if st.agents, err = startAgents(dir, o.bin, ""); err != nil {
		return nil, nil, err
	}
	defer st.agents.stop()
	for i := range shardNInst {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return nil, nil, err
		}
		name := fmt.Sprintf(shardInstFmt, i+1)
		st.names = append(st.names, name)
		st.insts = append(st.insts, &shardInst{name: name, http: fmt.Sprintf("127.0.0.1:%d", port),
			cfg: filepath.Join(dir, name+".toml"), log: filepath.Join(dir, name+".log")})
	}
	for _, inst := range st.insts {
		if err := writeShardConfig(inst, st.insts, st.nd.addr, secret, st.agents.port, st.zones); err != nil {
			return nil, nil, err
		}
	}
	defer func() {
		for _, inst := range st.insts {
			if inst.p != nil {
				inst.p.stop(3 * time.Second)
			}
		}
	}()
	for _, inst := range st.insts {
		if err := inst.start(o.bin); err != nil {
			return nil, nil, err
		}
	}
	st.owners = shard.Assign(st.zones, st.names)
	for i := range o.reps {
		t, b, err := shardSample(ctx, o, st, i)
		take = append(take, t...)
		if err != nil {
			return take, back, fmt.Errorf("sample %d: %w", i+1, err)
		}
		back = append(back, b)
	}
	return take, back, nil
}

// shardSample kills, in turn, an instance that owns zones, times until each
// of its zones is written by its new owner, then restarts it and times
// until it holds its zones' leases again.
func shardSample(ctx context.Context, o options, st *shardSetup, i int) (take []time.Duration, back time.Duration, err error) {
	var victim *shardInst
	for k := range shardNInst {
		if c := st.insts[(i+k)%shardNInst]; len(shard.Owned(st.owners, c.name)) > 0 {
			victim = c
			break
		}
	}
	nd, agents, zones := st.nd, st.agents, st.zones
	if err := agents.drain(2, false); err != nil {
		return nil, 0, err
	}
	if err := waitSettled(ctx, nd.addr, zones, st.owners, answerBest, shardMaxWait); err != nil {
		return nil, 0, err
	}
	if err := sleepCtx(ctx, rand.N(time.Second)); err != nil {
		return nil, 0, err
	}
	var live []string
	for _, n := range st.names {
		if n != victim.name {
			live = append(live, n)
		}
	}
	next := shard.Assign(zones, live)
	moved := shard.Owned(st.owners, victim.name)
	t0 := time.Now()
	victim.p.kill()
	if err := agents.drain(2, true); err != nil {
		return nil, 0, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, z := range moved {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t1, _, err := waitAnswer(ctx, nd.addr, z, answerDrained, shardMaxWait)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (new owner %s): %w", z, next[z], err))
				return
			}
			take = append(take, t1.Sub(t0))
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return take, 0, fmt.Errorf("%v", errs)
	}
	for _, z := range moved {
		if h := leaseHolderOf(nd.addr, z); h != next[z] {
			return take, 0, fmt.Errorf("%s written, but its lease is held by %q, not its new owner %s", z, h, next[z])
		}
	}
	debugf("shard sample %d: %s killed, zones %v taken", i+1, victim.name, moved)

	// Back: restart it, time until it holds its zones' leases again.
	if err := agents.drain(2, false); err != nil {
		return take, 0, err
	}
	t2 := time.Now()
	if err := victim.start(o.bin); err != nil {
		return take, 0, err
	}
	deadline := t2.Add(shardBackWait)
	for {
		_, writing, err := victim.status(ctx)
		if err == nil && !slices.ContainsFunc(moved, func(z string) bool { return !writing[z] }) {
			return take, time.Since(t2), nil
		}
		if time.Now().After(deadline) {
			return take, 0, fmt.Errorf("%s restarted, zones %v not back after %v (%v)", victim.name, moved, shardBackWait, err)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return take, 0, err
		}
	}
}
