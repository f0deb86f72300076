package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbclient/sim"
)

// A farm of 200 simulated agents (bin/lbsim) with 10 % silent and 5 %
// garbage-answering members; lbd -once publishes, for every alias, exactly
// the best usable members, and no garbage reply crashes lbd or ends up in
// DNS. Correctness only: nothing here depends on speed.
func TestFarmWithSilentAndGarbageMembers(t *testing.T) {
	testenv.Require(t, "named")
	const (
		members, aliases = 200, 20
		zone             = "lb.farm"
		seed             = 7
	)
	base := netip.MustParseAddr("127.3.0.1")
	port := testenv.FreePort(t, base.String())
	dir := t.TempDir()
	emitted := filepath.Join(dir, "aliases.toml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "lbsim"), "-members", fmt.Sprint(members), "-aliases", fmt.Sprint(aliases),
		"-base", base.String(), "-port", fmt.Sprint(port), "-version", "3", "-auth-password", snmpPassword,
		"-silent", "0.1", "-garbage", "0.05", "-walk", "0", "-seed", fmt.Sprint(seed), "-zone", zone, "-emit-config", emitted)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	simLog := &syncBuffer{}
	cmd.Stderr = simLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("lbsim exited before ready: %s", simLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("lbsim not ready after 30 s: %s", simLog.String())
	}

	// The same layout, computed here: lbsim is deterministic for a seed.
	farm, err := sim.New(sim.Config{Members: members, Aliases: aliases, Base: base, Port: port, Silent: 0.1, Garbage: 0.05,
		Zone: zone, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}

	n := testenv.StartNamed(t, testenv.NamedOptions{Zones: []string{zone},
		Keys: []tsig.Spec{lbdKey}})
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[lbd]\nrole = \"master\"\n[dns]\nserver = %q\ntimeout = \"2s\"\n", n.Addr)
	fmt.Fprintf(&cfg, "internal_key = { name = \"lbd-key.\", algorithm = \"hmac-sha256\", secret = %q }\n", tsigSecret)
	fmt.Fprintf(&cfg, "[snmp]\nversion = \"3\"\nport = %d\nauth_password = %q\ntimeout = \"500ms\"\nretries = 0\n", port, snmpPassword)
	fmt.Fprintf(&cfg, "[defaults]\nbest_hosts = 2\nfallback = \"none\"\n")
	tables, err := os.ReadFile(emitted)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Write(tables)
	path := filepath.Join(dir, "lbd.toml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runLBD(t, "-config", path, "-once")
	if err != nil {
		t.Fatalf("lbd -once: %v\n%s\n%s", err, stdout, stderr)
	}

	byAddr := map[netip.Addr]*sim.Member{}
	for _, m := range farm.Members {
		byAddr[m.Addr] = m
	}
	faulty := 0
	for _, alias := range farm.AliasNames {
		var healthy []int
		for _, a := range farm.AliasMembers[alias] {
			m := byAddr[a]
			if m.Fault == sim.Healthy {
				healthy = append(healthy, m.Load())
			} else {
				faulty++
			}
		}
		sort.Ints(healthy)
		want := healthy[:min(2, len(healthy))]
		var got []int
		for _, rr := range n.Query(t, alias, dns.TypeA) {
			a, ok := rr.(*dns.A)
			if !ok {
				continue
			}
			addr, _ := netip.AddrFromSlice(a.A.To4())
			m := byAddr[addr]
			if m == nil {
				t.Fatalf("%s: published %s, which is no member", alias, addr)
			}
			if m.Fault != sim.Healthy {
				t.Fatalf("%s: published %s, a %s member", alias, addr, m.Fault)
			}
			got = append(got, m.Load())
		}
		sort.Ints(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: published loads %v, want the best usable %v", alias, got, want)
		}
	}
	if faulty != 30 {
		t.Fatalf("%d faulty members in the layout, want 30 (10 %% silent + 5 %% garbage of 200)", faulty)
	}
}
