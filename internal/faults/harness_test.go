package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/sim"
)

var binDir string

// TestMain builds the binaries the cases run, once.
func TestMain(m *testing.M) {
	testenv.RunWithBinaries(m, func(dir string) { binDir = dir }, "lbd", "lbsim")
}

const (
	snmpPassword = "faults-secret-pw"
	tsigSecret   = "ZmF1bHRzLXRlc3QtdHNpZy1zZWNyZXQtMzItYnl0ZXM="
	keyName      = "lbd-key."
)

var keySpec = tsig.Spec{Name: keyName, Algorithm: "hmac-sha256", Secret: tsigSecret}

// longForm reports whether every case runs (LBD_FAULTS=long, make faults).
func longForm() bool { return os.Getenv("LBD_FAULTS") == "long" }

// report prints the case's one line (stdout, so that make faults shows it
// without -v noise) and logs it.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	name := t.Name()
	if i := strings.Index(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	line := fmt.Sprintf("FAULT %s: %s", name, fmt.Sprintf(format, args...))
	fmt.Println(line)
	t.Log(line)
}

// waitFor polls cond every 50 ms until it holds or limit passes (then the
// test fails); it returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, limit)
	return 0
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// proc is a child process killed when the test ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *testenv.Buffer
	done chan struct{}
}

func startProc(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &testenv.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			l := p.log.String()
			if len(l) > 8000 {
				l = "…" + l[len(l)-8000:]
			}
			t.Logf("%s output:\n%s", name, l)
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// logLines are lbd's JSON log entries (-log-json).
func (p *proc) logLines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(p.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// has reports whether a log entry's message contains msg.
func (p *proc) has(msg string) bool { return strings.Contains(p.log.String(), msg) }

// count counts the log entries whose message contains msg.
func (p *proc) count(msg string) int {
	n := 0
	for _, e := range p.logLines() {
		if s, _ := e["msg"].(string); strings.Contains(s, msg) {
			n++
		}
	}
	return n
}

// startLBD runs bin/lbd -config cfg as host, logging JSON at debug level
// (the "cycle" lines give cycle counts and times).
func startLBD(t *testing.T, cfg, host string) *proc {
	t.Helper()
	return startProc(t, "lbd "+host, filepath.Join(binDir, "lbd"), "-config", cfg, "-hostname", host, "-log-json", "-log-level", "debug")
}

// lbdConf is what the cases vary in an lbd configuration.
type lbdConf struct {
	Role     string // master | slave
	Servers  []string
	HTTP     string
	URL      string // a slave's heartbeat URL
	SNMPPort int
	Polling  string
	Aliases  []aliasConf
	// Embedded is the listen address of lbd's embedded DNS server, serving
	// EmbeddedZone from DataDir.
	Embedded, EmbeddedZone, DataDir string
	Extra                           string // appended ([[alias]] tables of lbsim)
	Defaults                        string // more [defaults] lines
}

type aliasConf struct {
	Name    string
	Members []string
	Best    int
}

func (c lbdConf) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[lbd]\nrole = %q\nmaster = \"master.test\"\ntick = \"100ms\"\n", c.Role)
	if c.HTTP != "" {
		fmt.Fprintf(&b, "http_listen = %q\n", c.HTTP)
	}
	fmt.Fprintf(&b, "[heartbeat]\ninterval = \"200ms\"\nstale_after = \"2s\"\n")
	if c.URL != "" {
		fmt.Fprintf(&b, "url = %q\n", c.URL)
	}
	if c.Embedded != "" {
		fmt.Fprintf(&b, "[authoritative]\nlisten = %q\ndata_dir = %q\n", c.Embedded, c.DataDir)
		fmt.Fprintf(&b, "keys = [{ name = %q, algorithm = \"hmac-sha256\", secret = %q }]\n", keyName, tsigSecret)
		fmt.Fprintf(&b, "[[authoritative.zone]]\nname = %q\nns = [\"ns1.%s.\"]\nupdate_keys = [%q]\n", c.EmbeddedZone, c.EmbeddedZone, keyName)
	}
	b.WriteString("[dns]\n")
	if len(c.Servers) > 0 {
		q := make([]string, len(c.Servers))
		for i, s := range c.Servers {
			q[i] = fmt.Sprintf("%q", s)
		}
		fmt.Fprintf(&b, "servers = [%s]\n", strings.Join(q, ", "))
	}
	fmt.Fprintf(&b, "timeout = \"500ms\"\nretries = 1\n")
	fmt.Fprintf(&b, "internal_key = { name = %q, algorithm = \"hmac-sha256\", secret = %q }\n", keyName, tsigSecret)
	port := c.SNMPPort
	if port == 0 {
		port = 161
	}
	fmt.Fprintf(&b, "[snmp]\nversion = \"3\"\nport = %d\nauth_protocol = \"md5\"\nauth_password = %q\ntimeout = \"500ms\"\nretries = 0\n", port, snmpPassword)
	if c.Polling == "" {
		c.Polling = "300ms"
	}
	fmt.Fprintf(&b, "[defaults]\npolling_interval = %q\nttl = \"60s\"\n%s", c.Polling, c.Defaults)
	for _, a := range c.Aliases {
		q := make([]string, len(a.Members))
		for i, m := range a.Members {
			q[i] = fmt.Sprintf("%q", m)
		}
		fmt.Fprintf(&b, "[[alias]]\nname = %q\nmembers = [%s]\nbest_hosts = %d\n", a.Name, strings.Join(q, ", "), a.Best)
	}
	b.WriteString(c.Extra)
	return b.String()
}

// write writes the configuration into a new file and returns its path.
func (c lbdConf) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lbd.toml")
	if err := os.WriteFile(path, []byte(c.render()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddr is "127.0.0.1:<free port>".
func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
}

// farm is simulated members (lbclient/sim, what bin/lbsim runs) in the test
// process, so that a case can change their loads.
type farm struct {
	f    *sim.Farm
	port int
}

// startFarm runs n members from base serving aliases aliases under zone,
// with the given loads (member i gets loads[i]).
func startFarm(t *testing.T, base string, aliases int, zone string, loads ...int) *farm {
	t.Helper()
	port := testenv.FreePort(t, base)
	f, err := sim.New(sim.Config{Members: len(loads), Aliases: aliases, Base: netip.MustParseAddr(base), Port: port, Zone: zone, Seed: 1,
		Users: []agent.User{{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: snmpPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range loads {
		f.Members[i].SetLoad(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); f.Wait() })
	return &farm{f: f, port: port}
}

func (f *farm) addr(i int) string  { return f.f.Members[i].Addr.String() }
func (f *farm) alias(i int) string { return f.f.AliasNames[i] }
func (f *farm) set(i, load int)    { f.f.Members[i].SetLoad(load) }
func (f *farm) members(a int) []string {
	var out []string
	for _, m := range f.f.AliasMembers[f.f.AliasNames[a]] {
		out = append(out, m.String())
	}
	return out
}

// startNamed runs named serving zones, every zone updatable with lbd's key.
func startNamed(t *testing.T, zones ...string) *testenv.Named {
	t.Helper()
	return testenv.StartNamed(t, testenv.NamedOptions{Zones: zones, Keys: []tsig.Spec{keySpec}})
}

// signer is lbd's key, for reads the embedded server does not rate-limit
// and for updates.
func signer(t *testing.T) *tsig.Key { return testenv.CompileKey(t, keySpec) }

// exchange sends m to addr over UDP (TCP when truncated), signed with key
// unless nil.
func exchange(m *dns.Msg, addr string, key *tsig.Key, timeout time.Duration) (*dns.Msg, error) {
	var r *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		q := m.Copy()
		c := &dns.Client{Net: network, Timeout: timeout}
		if key != nil {
			c.TsigProvider = key
			q.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
		}
		var err error
		if r, _, err = c.Exchange(q, addr); err != nil {
			return nil, err
		}
		if !r.Truncated {
			break
		}
	}
	return r, nil
}

// addrsAt returns the sorted A records addr serves for name ("" on error:
// a caller comparing with a wanted set just sees no match).
func addrsAt(addr, name string, key *tsig.Key) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = false
	r, err := exchange(m, addr, key, time.Second)
	if err != nil {
		return "", err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return "", fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	}
	return strings.Join(testenv.AddrsA(r.Answer), " "), nil
}

// served is addrsAt without the error.
func served(addr, name string) string { s, _ := addrsAt(addr, name, nil); return s }

// sampler queries name at addr every 50 ms and counts the changes of the
// answer, so that a second writer (a flap) shows.
type sampler struct {
	mu      sync.Mutex
	values  []string // the answers, each change once
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func startSampler(t *testing.T, addr, name string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; i < 3000; i++ { // bounded: 150 s
			if v, err := addrsAt(addr, name, nil); err == nil {
				s.mu.Lock()
				s.samples++
				if len(s.values) == 0 || s.values[len(s.values)-1] != v {
					s.values = append(s.values, v)
				}
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *sampler) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// changes returns the sequence of distinct answers and the sample count.
func (s *sampler) changes() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.values...), s.samples
}

// cycles returns lbd's "cycle" debug entries' cycle_seconds.
func cycles(p *proc) []float64 {
	var out []float64
	for _, e := range p.logLines() {
		if e["msg"] == "cycle" {
			if v, ok := e["cycle_seconds"].(float64); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// dialFrom opens a TCP connection to addr from the local address ip.
func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	return d.Dial("tcp", addr)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
