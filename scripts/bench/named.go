package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/dnsupdate"
	"github.com/lbd-project/lbd/internal/bindconf"
	"github.com/lbd-project/lbd/internal/tsig"
)

// dnsServer is a throwaway DNS server process on 127.0.0.1 serving empty
// primary zones every one of which keyName may update: BIND's named
// (startNamed: the same options block as internal/testenv, no recursion,
// no IPv6, no rndc, no notify) or knotd (startKnot).
type dnsServer struct {
	addr string
	p    *proc
}

// serverBinary finds a DNS server's program in PATH or the sbin
// directories; errSkip (naming the Debian package) when it is missing.
func serverBinary(name, what, pkg string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s (%s) not found; install %s", errSkip, name, what, pkg)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// serverSetup finds the server's program, creates its directory and picks
// its port.
func serverSetup(name, what, pkg, dir string) (bin string, port int, err error) {
	if bin, err = serverBinary(name, what, pkg); err != nil {
		return "", 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	port, err = freePort("127.0.0.1")
	return bin, port, err
}

// startNamed starts named with threads worker threads (named -n).
func startNamed(ctx context.Context, dir string, zones []string, secret string, threads int) (*dnsServer, error) {
	bin, port, err := serverSetup("named", "BIND 9", "bind9", dir)
	if err != nil {
		return nil, err
	}
	q := strconv.Quote
	var b strings.Builder
	b.WriteString(bindconf.Options(dir, port))
	fmt.Fprintf(&b, "key %s { algorithm hmac-sha256; secret %s; };\n", q(keyName), q(secret))
	for _, z := range zones {
		zone := dns.Fqdn(z)
		file := filepath.Join(dir, bindconf.ZoneFileName(zone))
		fmt.Fprintf(&b, "zone %s { type primary; file %s; update-policy { grant %s zonesub ANY; }; };\n", q(zone), q(file), q(keyName))
		if err := os.WriteFile(file, []byte(bindconf.ZoneFile(zone)), 0o644); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(bin, filepath.Join(dir, "named.log"), "", "-g", "-4", "-n", strconv.Itoa(max(threads, 1)), "-c", conf)
	if err != nil {
		return nil, err
	}
	n := &dnsServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), p: p}
	if err := waitZones(ctx, "named", n.addr, zones, p); err != nil {
		return nil, err
	}
	return n, nil
}

// waitZones returns when the server at addr answers SOA for the first and
// the last of zones (bounded: 60 s), and stops p if it does not.
func waitZones(ctx context.Context, what, addr string, zones []string, p *proc) error {
	deadline := time.Now().Add(60 * time.Second)
	check := []string{zones[0], zones[len(zones)-1]}
	for {
		ok := true
		for _, z := range check {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(z), dns.TypeSOA)
			r, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(m, addr)
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if !p.running() {
			return fmt.Errorf("%s exited during start-up (%v): %s", what, p.err, p.Tail())
		}
		if time.Now().After(deadline) {
			p.stop(3 * time.Second)
			return fmt.Errorf("%s not ready after 60s: %s", what, p.Tail())
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			p.stop(3 * time.Second)
			return err
		}
	}
}

// dnsSection: alias changes/s written into named with dnsupdate.Client,
// one zone per alias versus every alias in one zone.
func dnsSection(ctx context.Context, o options, dir string) []*table {
	n := o.dnsAliases
	t := &table{title: fmt.Sprintf("DNS write throughput into named (%d aliases)", n),
		cols: []string{"layout", "round", "changes", "UPDATE msgs", "TCP msgs", "seconds", "changes/s"}}
	t.note("method: one throwaway named (BIND 9, `named -g -4 -n 1`, update-policy grant zonesub ANY for one hmac-sha256 key) serving %d one-alias zones (the alias is its zone apex) and one shared zone with %d aliases; "+
		"dnsupdate.Client.ApplyEach (TSIG-signed, ≤ 64 zones in flight (dnsupdate.DefaultZonesInFlight), a zone's changes batched into messages < 64 KiB) is given one Change per alias per round", n, n)
	t.note("round 0 publishes 2 A records per alias; every later round replaces both (2 deletes + 2 adds per alias); changes/s = aliases changed / wall time of ApplyEach; the first and last alias are read back after each round")
	t.note("target (docs/design.md §6): ≥ 5,000 alias changes/s into BIND when aliases share a zone")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	secret := newSecret()
	var own []string
	for i := range n {
		own = append(own, fmt.Sprintf("a%04d.own.bench", i+1))
	}
	const shared = "shared.bench"
	zones := append(append([]string(nil), own...), shared)
	start := time.Now()
	nd, err := startNamed(ctx, filepath.Join(dir, "named"), zones, secret, 1)
	if err != nil {
		t.fail("named: %v", err)
		return []*table{t}
	}
	defer nd.p.stop(5 * time.Second)
	t.note("named start-up with %d zones: %.1f s", len(zones), time.Since(start).Seconds())

	layouts := []struct {
		name  string
		zone  func(i int) string
		owner func(i int) string
	}{
		{"zone per alias", func(i int) string { return own[i] }, func(i int) string { return own[i] }},
		{"shared zone", func(int) string { return shared }, func(i int) string { return fmt.Sprintf("a%04d.%s", i+1, shared) }},
	}
	addr := func(round, i, k int) netip.Addr {
		return netip.AddrFrom4([4]byte{127, byte(10 + 2*round + k), byte(i >> 8), byte(i)})
	}
	key, err := tsig.Compile(keyName, "hmac-sha256", secret)
	if err != nil {
		t.fail("key: %v", err)
		return []*table{t}
	}
	for _, l := range layouts {
		var msgs, tcp atomic.Int64
		c := &dnsupdate.Client{Server: nd.addr, Timeout: 5 * time.Second,
			Key: key,
			Observe: func(a dnsupdate.Attempt) {
				if a.Op == "update" {
					msgs.Add(1)
					if a.Net == "tcp" {
						tcp.Add(1)
					}
				}
			}}
		prev := make([][]netip.Addr, n)
		var rates []float64
		for round := 0; round <= o.dnsRounds; round++ {
			if ctx.Err() != nil {
				t.fail("interrupted: %v", context.Cause(ctx))
				return []*table{t}
			}
			changes := make([]dnsupdate.Change, n)
			next := make([][]netip.Addr, n)
			for i := range n {
				next[i] = []netip.Addr{addr(round, i, 0), addr(round, i, 1)}
				changes[i] = dnsupdate.Diff(l.zone(i), l.owner(i), dnsupdate.State{A: prev[i], TTL: 60}, next[i], 60)
			}
			msgs.Store(0)
			tcp.Store(0)
			t0 := time.Now()
			res := c.ApplyEach(ctx, changes)
			el := time.Since(t0)
			var errs []string
			for z, err := range res {
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", z, err))
				}
			}
			if len(errs) > 0 {
				t.fail("%s round %d: %d zones failed, e.g. %s", l.name, round, len(errs), errs[0])
				break
			}
			for _, i := range []int{0, n - 1} {
				want := next[i][0].String() + " " + next[i][1].String()
				got, err := answerA(nd.addr, l.owner(i), 2*time.Second)
				if err != nil || got != want {
					t.fail("%s round %d: %s answers %q (%v), want %q", l.name, round, l.owner(i), got, err, want)
				}
			}
			prev = next
			r := float64(n) / el.Seconds()
			label := fmt.Sprint(round)
			if round == 0 {
				label = "0 (publish)"
			} else {
				rates = append(rates, r)
			}
			t.row(l.name, label, fmt.Sprint(n), fmt.Sprint(msgs.Load()), fmt.Sprint(tcp.Load()), secs(el), rate(r))
			debugf("dns %s round %d: %v", l.name, round, el)
		}
		if len(rates) > 0 {
			lo, hi := rates[0], rates[0]
			for _, r := range rates {
				lo, hi = min(lo, r), max(hi, r)
			}
			t.note("%s: %s–%s changes/s over rounds 1–%d", l.name, rate(lo), rate(hi), len(rates))
		}
	}
	return []*table{t}
}
