package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

const loadOID = ".1.3.6.1.4.1.96.255.1"

// agentSection: GETs/s and latency of one bin/lbclient under K concurrent
// gosnmp clients, SNMP v2c and v3 (MD5 authNoPriv).
func agentSection(ctx context.Context, o options, dir string) []*table {
	t := &table{title: "lbclient agent: GETs/s and latency",
		cols: []string{"SNMP", "clients", "GETs", "errors", "seconds", "GETs/s", "agent CPU s", "GETs per agent CPU s", "p50 ms", "p99 ms", "max ms"}}
	t.note("method: bin/lbclient serving 2 aliases (constant loads, answer \"a=N,b=M\") on 127.0.0.5; a Go load generator in the harness process runs K goroutines (K = clients column), each with its own connected gosnmp.GoSNMP (timeout 1 s, no retries), "+
		"sharing a budget of %d GETs of the load OID (bounded to 60 s); for v3 each client discovers the engine once and reuses engine ID/boots/time and the localized key afterwards", o.agentReqs)
	t.note("latency is per GET as seen by the client (send → verified reply); the generator, the agent and anything else running share the 2 cores, so GETs/s is a lower bound of the agent's capacity; GETs per agent CPU s = GETs / CPU time the lbclient process used during the run (≈ GETs/s on one dedicated core)")
	t.note("target (docs/design.md §6): ≥ 20,000 SNMPv3 GETs/s on one core, p99 ≤ 1 ms")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	port, err := freePort("127.0.0.1")
	for range 20 {
		if err != nil || udpPortFree(port, "127.0.0.5") {
			break
		}
		port, err = freePort("127.0.0.1")
	}
	if err != nil {
		t.fail("%v", err)
		return []*table{t}
	}
	conf := fmt.Sprintf(`[agent]
listen = ["127.0.0.5:%d"]
root = %q
community = "public"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %q }]
interval = "10s"

[[alias]]
name = "a.%s"
loads = [{ type = "constant", data = "10" }]

[[alias]]
name = "b.%s"
loads = [{ type = "constant", data = "20" }]
`, port, dir, benchPassword, benchZone, benchZone)
	cfg := filepath.Join(dir, "lbclient.toml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.fail("%v", err)
		return []*table{t}
	}
	p, err := startProc(filepath.Join(o.bin, "lbclient"), filepath.Join(dir, "lbclient.log"), "", "-config", cfg)
	if err != nil {
		t.fail("%v", err)
		return []*table{t}
	}
	defer p.stop(3 * time.Second)
	if err := waitAgentReady(ctx, port); err != nil {
		t.fail("lbclient not ready: %v; log: %s", err, p.Tail())
		return []*table{t}
	}
	for _, ver := range []string{"2c", "3"} {
		for _, k := range o.agentConns {
			progress("agent v%s, %d clients", ver, k)
			cpu0, _ := procCPU(p.cmd.Process.Pid)
			r, err := loadAgent(ctx, port, ver, k, o.agentReqs, 60*time.Second)
			cpu1, _ := procCPU(p.cmd.Process.Pid)
			if err != nil {
				t.fail("v%s, %d clients: %v", ver, k, err)
				continue
			}
			slices.Sort(r.lat)
			cpu := cpu1 - cpu0
			perCPU := "-"
			if cpu > 0 {
				perCPU = rate(float64(len(r.lat)) / cpu.Seconds())
			}
			t.row("v"+ver, fmt.Sprint(k), fmt.Sprint(len(r.lat)), fmt.Sprint(r.errors), secs(r.elapsed),
				rate(float64(len(r.lat))/r.elapsed.Seconds()), secs(cpu), perCPU,
				ms(percentile(r.lat, 50)), ms(percentile(r.lat, 99)), ms(percentile(r.lat, 100)))
			if r.firstErr != nil {
				t.note("v%s, %d clients: first error: %v", ver, k, r.firstErr)
			}
			if r.timedOut {
				t.note("v%s, %d clients: stopped at the 60 s bound before the GET budget was used up", ver, k)
			}
		}
	}
	if !p.running() {
		t.fail("lbclient exited: %s", p.Tail())
	}
	return []*table{t}
}

func snmpClient(port int, ver string) *gosnmp.GoSNMP {
	g := &gosnmp.GoSNMP{Target: "127.0.0.5", Port: uint16(port), Timeout: time.Second, Retries: 0, MaxOids: 1}
	if ver == "2c" {
		g.Version, g.Community = gosnmp.Version2c, "public"
	} else {
		g.Version, g.SecurityModel, g.MsgFlags = gosnmp.Version3, gosnmp.UserSecurityModel, gosnmp.AuthNoPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{UserName: "loadbalancing",
			AuthenticationProtocol: gosnmp.MD5, AuthenticationPassphrase: benchPassword}
	}
	return g
}

// waitAgentReady GETs (v2c) until the agent answers a usable string.
func waitAgentReady(ctx context.Context, port int) error {
	g := snmpClient(port, "2c")
	g.Timeout = 300 * time.Millisecond
	if err := g.Connect(); err != nil {
		return err
	}
	defer g.Conn.Close()
	var last string
	for range 100 {
		r, err := g.Get([]string{loadOID})
		if err == nil && len(r.Variables) == 1 {
			if b, ok := r.Variables[0].Value.([]byte); ok && !strings.Contains(string(b), "-") {
				return nil
			}
			last = fmt.Sprintf("%v", r.Variables[0].Value)
		} else if err != nil {
			last = err.Error()
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("last answer %s", last)
}

type loadResult struct {
	lat      []time.Duration
	errors   int
	firstErr error
	elapsed  time.Duration
	timedOut bool
}

func loadAgent(ctx context.Context, port int, ver string, clients, total int, limit time.Duration) (loadResult, error) {
	var res loadResult
	conns := make([]*gosnmp.GoSNMP, clients)
	defer func() {
		for _, g := range conns {
			if g != nil && g.Conn != nil {
				g.Conn.Close()
			}
		}
	}()
	// Connect and warm up every client first (v3: engine discovery).
	for i := range conns {
		g := snmpClient(port, ver)
		if err := g.Connect(); err != nil {
			return res, err
		}
		conns[i] = g
		if _, err := g.Get([]string{loadOID}); err != nil {
			return res, fmt.Errorf("warm-up GET: %w", err)
		}
	}
	var budget atomic.Int64
	budget.Store(int64(total))
	deadline := time.Now().Add(limit)
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	firstErr := make([]error, clients)
	var stopped atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i, g := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, total/clients+1)
			for n := 0; budget.Add(-1) >= 0; n++ {
				if n%256 == 0 && (ctx.Err() != nil || time.Now().After(deadline)) {
					stopped.Store(true)
					break
				}
				t0 := time.Now()
				r, err := g.Get([]string{loadOID})
				d := time.Since(t0)
				if err == nil && (len(r.Variables) != 1 || r.Variables[0].Type != gosnmp.OctetString) {
					err = fmt.Errorf("unexpected reply %v", r.Variables)
				}
				if err != nil {
					errs[i]++
					if firstErr[i] == nil {
						firstErr[i] = err
					}
					continue
				}
				l = append(l, d)
			}
			lats[i] = l
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.timedOut = stopped.Load()
	for i := range lats {
		res.lat = append(res.lat, lats[i]...)
		res.errors += errs[i]
		if res.firstErr == nil {
			res.firstErr = firstErr[i]
		}
	}
	if ctx.Err() != nil {
		return res, context.Cause(ctx)
	}
	return res, nil
}
