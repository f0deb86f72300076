package lbclient

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// Benchmarks of the standalone agent (BENCHMARKS.md "lbclient agent"):
//
//	go test -run '^$' -bench 'Agent' -benchtime 200000x -cpu 1,2 ./lbclient/
//
// BenchmarkAgentHandle* measure the request path alone (decode, USM
// check, HMAC, encode) through Responder.HandleAppend; BenchmarkAgentUDP*
// measure GETs over loopback UDP against a running Agent (one socket, so
// one serving goroutine) with benchClients synchronous clients in the same
// process, reporting GETs/s and the p50/p99 round-trip latency seen by the
// clients. With -cpu 1 the clients share the one core with the agent.

const (
	benchPass    = "bench-password"
	benchClients = 8
	benchAnswer  = "www.lb.example.org=120,ssh.lb.example.org=-16,ftp.lb.example.org=43"
)

// benchAgent starts an agent serving three aliases (a STRING answer) with a
// v2c community and an SNMPv3 MD5 user, and waits for its first round.
func benchAgent(b *testing.B) (*Agent, string) {
	b.Helper()
	port := testenv.FreePort(b, "127.0.0.1")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	root := b.TempDir()
	require.NoError(b, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	text := fmt.Sprintf(`[agent]
listen = [%q]
root = %q
community = "public"
interval = "1h"
engine_id = "800000600501020304050607"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %q },
         { name = "private", auth_protocol = "sha", auth_password = %q, priv_protocol = "aes", priv_password = %q }]
[[alias]]
name = "www.lb.example.org"
loads = [{ type = "constant", data = "120" }]
[[alias]]
name = "ssh.lb.example.org"
loads = [{ type = "constant", data = "-1" }]
[[alias]]
name = "ftp.lb.example.org"
loads = [{ type = "constant", data = "43" }]
`, addr, root, benchPass, benchPass, benchPass)
	cfg, err := Parse(filepath.Join(root, "lbclient.toml"), []byte(text))
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Start(ctx, cfg, testenv.QuietLogger())
	require.NoError(b, err)
	b.Cleanup(func() {
		cancel()
		_ = a.Wait()
	})
	for i := 0; i < 200 && !a.Evaluator.State().Ready; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if v := a.Evaluator.Value(); v.Str != benchAnswer {
		b.Fatalf("agent answers %v", v)
	}
	return a, addr
}

// benchRequest builds a GET of the load OID: v2c when user is "", else
// SNMPv3 for the agent's engine (engine time 0: valid for 150 s).
func benchRequest(b *testing.B, r *agent.Responder, user string, auth gosnmp.SnmpV3AuthProtocol, priv gosnmp.SnmpV3PrivProtocol) ([]byte, *gosnmp.UsmSecurityParameters) {
	b.Helper()
	var sp *gosnmp.UsmSecurityParameters
	p := &gosnmp.SnmpPacket{PDUType: gosnmp.GetRequest, RequestID: 4711, MsgID: 4242, MsgMaxSize: 65507,
		Variables: []gosnmp.SnmpPDU{{Name: agent.OID, Type: gosnmp.Null}}}
	if user == "" {
		p.Version, p.Community = gosnmp.Version2c, "public"
	} else {
		sp = &gosnmp.UsmSecurityParameters{UserName: user, AuthenticationProtocol: auth, AuthenticationPassphrase: benchPass,
			PrivacyProtocol: priv, PrivacyPassphrase: benchPass, AuthoritativeEngineID: string(r.EngineID()),
			AuthoritativeEngineBoots: r.Boots(), Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
		require.NoError(b, sp.InitSecurityKeys())
		p.Version, p.SecurityModel, p.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, sp
		p.MsgFlags, p.ContextEngineID = gosnmp.AuthNoPriv|gosnmp.Reportable, string(r.EngineID())
		if priv != gosnmp.NoPriv {
			p.MsgFlags = gosnmp.AuthPriv | gosnmp.Reportable
			require.NoError(b, sp.InitPacket(p)) // the AES salt
		}
	}
	req, err := p.MarshalMsg()
	require.NoError(b, err)
	return req, sp
}

// verifyReply checks that reply is a GetResponse carrying benchAnswer (not
// a Report), decrypting and checking the HMAC with sp for SNMPv3.
func verifyReply(b *testing.B, sp *gosnmp.UsmSecurityParameters, reply []byte) {
	b.Helper()
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	if sp != nil {
		g.Version, g.SecurityModel, g.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, sp
	}
	p, err := g.SnmpDecodePacket(append([]byte(nil), reply...))
	require.NoError(b, err)
	if p.PDUType != gosnmp.GetResponse || len(p.Variables) != 1 {
		b.Fatalf("reply %v with varbinds %+v", p.PDUType, p.Variables)
	}
	if v, _ := p.Variables[0].Value.([]byte); string(v) != benchAnswer {
		b.Fatalf("reply value %v", p.Variables[0].Value)
	}
}

func benchHandle(b *testing.B, user string, auth gosnmp.SnmpV3AuthProtocol, priv gosnmp.SnmpV3PrivProtocol) {
	a, _ := benchAgent(b)
	r := a.CurrentResponder()
	req, sp := benchRequest(b, r, user, auth, priv)
	dst := make([]byte, 0, agent.MaxMessage)
	reply, ok := r.HandleAppend(dst, req)
	if !ok || len(reply) == 0 {
		b.Fatal("no reply")
	}
	verifyReply(b, sp, reply)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, ok := r.HandleAppend(dst[:0], req); !ok {
			b.Fatal("no reply")
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "GETs/s")
}

func BenchmarkAgentHandleV2c(b *testing.B) { benchHandle(b, "", 0, 0) }
func BenchmarkAgentHandleV3MD5(b *testing.B) {
	benchHandle(b, "loadbalancing", gosnmp.MD5, gosnmp.NoPriv)
}
func BenchmarkAgentHandleV3SHAAES(b *testing.B) { benchHandle(b, "private", gosnmp.SHA, gosnmp.AES) }

// benchUDP sends b.N GETs to a running agent from benchClients connected
// sockets, each waiting for its reply before sending the next. With rate
// > 0 the clients together send at most rate GETs/s (each paced on its own
// schedule), so the latency is measured at that load instead of at
// saturation.
func benchUDP(b *testing.B, rate float64, user string, auth gosnmp.SnmpV3AuthProtocol, priv gosnmp.SnmpV3PrivProtocol) {
	a, addr := benchAgent(b)
	req, sp := benchRequest(b, a.CurrentResponder(), user, auth, priv)
	conns := make([]net.Conn, benchClients)
	for i := range conns {
		c, err := net.Dial("udp4", addr)
		require.NoError(b, err)
		defer c.Close()
		conns[i] = c
	}
	// warm-up round trip on every socket (also checks the reply)
	buf := make([]byte, 4096)
	for _, c := range conns {
		require.NoError(b, c.SetReadDeadline(time.Now().Add(2*time.Second)))
		_, err := c.Write(req)
		require.NoError(b, err)
		n, err := c.Read(buf)
		require.NoError(b, err)
		verifyReply(b, sp, buf[:n])
	}
	var next, lost atomic.Int64
	var firstErr atomic.Pointer[error]
	lat := make([][]time.Duration, len(conns))
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(len(conns)) / rate * float64(time.Second))
	}
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			mine := make([]time.Duration, 0, b.N/len(conns)+1)
			slot := start.Add(time.Duration(i) * interval / time.Duration(len(conns)))
			for next.Add(1) <= int64(b.N) {
				if interval > 0 {
					if d := time.Until(slot); d > 0 {
						time.Sleep(d)
					}
					slot = slot.Add(interval)
				}
				t0 := time.Now()
				_ = c.SetReadDeadline(t0.Add(time.Second))
				if _, err := c.Write(req); err != nil {
					if lost.Add(1) == 1 {
						firstErr.Store(&err)
					}
					continue
				}
				if _, err := c.Read(buf); err != nil {
					if lost.Add(1) == 1 {
						firstErr.Store(&err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no replies")
	}
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds())
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "GETs/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lost.Load()), "lost")
	// CPU of the whole process (agent and clients) per GET and in % of one core
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/GET")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu-%")
	if e := firstErr.Load(); e != nil {
		b.Logf("%d requests lost; first error: %v", lost.Load(), *e)
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkAgentUDPV2c(b *testing.B)   { benchUDP(b, 0, "", 0, 0) }
func BenchmarkAgentUDPV3MD5(b *testing.B) { benchUDP(b, 0, "loadbalancing", gosnmp.MD5, gosnmp.NoPriv) }
func BenchmarkAgentUDPV3SHAAES(b *testing.B) {
	benchUDP(b, 0, "private", gosnmp.SHA, gosnmp.AES)
}

// BenchmarkAgentUDPV3MD5At20k offers the docs/design.md §6 target load:
// 20,000 SNMPv3 authNoPriv GETs/s.
func BenchmarkAgentUDPV3MD5At20k(b *testing.B) {
	benchUDP(b, 20000, "loadbalancing", gosnmp.MD5, gosnmp.NoPriv)
}
