package dnsserver

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const helperEnv = "LBD_DNSSERVER_HELPER_DIR"

// TestMain runs the test binary as a plain server process when helperEnv
// is set (the durability test kills it with SIGKILL).
func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperMain(dir))
	}
	if dir := os.Getenv(fdHelperEnv); dir != "" {
		os.Exit(fdHelperMain(dir))
	}
	os.Exit(m.Run())
}

func helperMain(dir string) int {
	cfg := Config{
		Listen:  "127.0.0.1:0",
		DataDir: dir,
		Keys:    []tsig.Spec{{Name: testKeyName, Algorithm: "hmac-sha256", Secret: testSecret}},
		Zones: []Zone{{Name: testZone, NS: []string{"ns1.lb.example.org."},
			UpdateKeys: []string{testKeyName}, TransferKeys: []string{testKeyName}}},
		// Compact often, so that kills also hit compactions.
		CompactAfter:    5,
		CompactInterval: 30 * time.Millisecond,
		Log:             func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "New: %v\n", err)
		return 3
	}
	fmt.Printf("ADDR %s\n", s.Addr())
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "Run: %v\n", err)
		return 4
	}
	return 0
}

type helperProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	done   chan struct{}
}

func startHelper(t *testing.T, dir string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err, "pipe")
	p := &helperProc{cmd: cmd, stderr: &strings.Builder{}, done: make(chan struct{})}
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return p.stderr.Write(b) })
	require.NoError(t, cmd.Start(), "start helper")
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		for sc.Scan() {
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, "ADDR ") {
			<-p.done
			mu.Lock()
			defer mu.Unlock()
			require.FailNow(t, "helper did not start (zone failed to load?)", "%q\n%s", l, p.stderr.String())
		}
		p.addr = strings.TrimPrefix(l, "ADDR ")
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		require.FailNow(t, "helper start timed out")
	}
	return p
}

func (p *helperProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestKillDurability: a server process receives a stream of updates and is
// killed with SIGKILL at a random moment, 25 times (plus a kill during
// start-up every other round); after every restart the zone loads and
// holds every update that was acknowledged with NOERROR.
func TestKillDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const (
		rounds      = 25
		senders     = 3
		maxPerRound = 300 // per sender and round
	)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	var mu sync.Mutex
	acked := map[string]bool{}
	sent := 0
	var firstSerial uint32

	verify := func(p *helperProc, round int) {
		t.Helper()
		rrs, err := transfer(t, p.addr, dns.TypeAXFR, 0, true)
		if !assert.NoError(t, err, "round %d: AXFR after restart", round) {
			p.kill()
			t.FailNow()
		}
		have := map[string]bool{}
		for _, rr := range rrs {
			have[rr.Header().Name] = true
		}
		mu.Lock()
		defer mu.Unlock()
		missing := 0
		for n := range acked {
			if !have[n] {
				missing++
				assert.Fail(t, "acknowledged update lost", "round %d: %s", round, n)
			}
		}
		soa := rrs[0].(*dns.SOA)
		if round == 0 {
			firstSerial = soa.Serial
		}
		if missing == 0 {
			// Each change adds at least 1 (RFC 1982 §3.1; the helper uses
			// the real clock, which may add more).
			assert.GreaterOrEqual(t, soa.Serial-firstSerial, uint32(len(acked)), "round %d: serial for %d acknowledged updates", round, len(acked))
		}
	}

	for round := 0; round < rounds; round++ {
		if round%2 == 1 {
			// Also kill a process while it is still loading the zone
			// (replay, torn-tail truncation).
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+dir)
			require.NoError(t, cmd.Start(), "start helper")
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
			cmd.Process.Kill()
			cmd.Wait()
		}
		p := startHelper(t, dir)
		verify(p, round)
		if t.Failed() {
			p.kill()
			return
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := 0; g < senders; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &dns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{testKeyName: testSecret}}
				for i := 0; i < maxPerRound; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("r%02d-g%d-%03d.lb.example.org.", round, g, i)
					m := signedUpdate(testKeyName, func(m *dns.Msg) {
						rr, _ := dns.NewRR(name + " 60 IN TXT \"acked\"")
						m.Insert([]dns.RR{rr})
					})
					r, _, err := c.Exchange(m, p.addr)
					mu.Lock()
					sent++
					if err == nil && r.Rcode == dns.RcodeSuccess {
						acked[name] = true
					}
					mu.Unlock()
					if err != nil {
						return // killed
					}
				}
			}()
		}
		time.Sleep(time.Duration(5+rng.IntN(150)) * time.Millisecond)
		p.kill()
		close(stop)
		wg.Wait()
	}
	p := startHelper(t, dir)
	verify(p, rounds)
	p.kill()
	snap, err := os.ReadFile(dir + "/lb.example.org.snap")
	require.NoError(t, err, "snapshot")
	seq, _, err := decodeSnapshot(snap)
	require.NoError(t, err, "snapshot")
	require.Positive(t, seq, "snapshot never compacted")
	mu.Lock()
	t.Logf("%d kill rounds, %d updates sent, %d acknowledged, none lost", rounds, sent, len(acked))
	mu.Unlock()
}
