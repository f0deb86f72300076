package testenv

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// Bounds of the waits for the servers tests start.
const (
	daemonStartTimeout = 15 * time.Second
	daemonPollInterval = 50 * time.Millisecond
	daemonStopGrace    = 5 * time.Second
	daemonQueryTimeout = 2 * time.Second
)

// daemon is a server run in the foreground as a child process: its output
// goes to log, Start waits until it is ready (an authoritative DNS server:
// every zone answers SOA authoritatively; otherwise probe), Stop sends
// SIGTERM then SIGKILL. named, Knot, PowerDNS and HAProxy wrap it.
type daemon struct {
	name  string   // for messages: "knotd", "pdns_server"
	bin   string   // absolute path
	args  []string // command line after bin
	dir   string   // working directory
	addr  string   // "127.0.0.1:port"
	zones []string
	probe func() error // when set, readiness instead of the zones' SOA

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *Buffer
}

func newDaemon(name, bin, dir, addr string, zones []string) *daemon {
	return &daemon{name: name, bin: bin, dir: dir, addr: addr, zones: zones, log: &Buffer{}}
}

// logOnFailure prints the daemon's output at the end of a failed test.
func (d *daemon) logOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output (%s):\n%s", d.name, d.dir, d.log.String())
		}
	})
}

func (d *daemon) start(t testing.TB) {
	t.Helper()
	d.mu.Lock()
	if d.cmd != nil {
		d.mu.Unlock()
		t.Fatalf("%s: already running", d.name)
	}
	fmt.Fprintf(d.log, "=== starting %s %s\n", d.bin, strings.Join(d.args, " "))
	cmd := exec.Command(d.bin, d.args...)
	cmd.Dir = d.dir
	cmd.Stdout = d.log
	cmd.Stderr = d.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		t.Fatalf("%s: %v", d.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	d.cmd, d.done = cmd, done
	d.mu.Unlock()
	t.Cleanup(d.stop)

	deadline := time.Now().Add(daemonStartTimeout)
	for {
		err := d.ready()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited during startup (%v); output:\n%s", d.name, err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			d.stop()
			t.Fatalf("%s not ready after %v: %v; output:\n%s", d.name, daemonStartTimeout, err, d.log.String())
		}
		time.Sleep(daemonPollInterval)
	}
}

// ready checks that every zone answers SOA authoritatively, or runs probe.
func (d *daemon) ready() error {
	if d.probe != nil {
		return d.probe()
	}
	for _, z := range d.zones {
		if err := soaReady(d.addr, z, nil); err != nil {
			return err
		}
	}
	return nil
}

// soaReady checks that the server at addr answers zone's SOA
// authoritatively (signed with key unless nil).
func soaReady(addr, zone string, key *tsig.Spec) error {
	r, err := exchangeWith(addr, dns.Fqdn(zone), dns.TypeSOA, key, 500*time.Millisecond)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || !r.Authoritative {
		return fmt.Errorf("SOA %s: %s, %d answers", zone, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

// terminate stops a test server: SIGTERM, then SIGKILL after grace; done
// is closed when it has exited.
func terminate(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration, log io.Writer) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
	fmt.Fprintf(log, "=== stopped\n")
}

func (d *daemon) stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd, d.done = nil, nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	terminate(cmd, done, daemonStopGrace, d.log)
}

// query sends a query (signed with key unless nil) and returns the answer
// section; it fails the test on a transport error or an RCODE other than
// NOERROR/NXDOMAIN.
func (d *daemon) query(t testing.TB, name string, qtype uint16, key *tsig.Spec) []dns.RR {
	t.Helper()
	r, err := exchangeWith(d.addr, dns.Fqdn(name), qtype, key, daemonQueryTimeout)
	if err != nil {
		t.Fatalf("%s: query %s %s at %s: %v", d.name, name, dns.TypeToString[qtype], d.addr, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s: query %s %s at %s: %s", d.name, name, dns.TypeToString[qtype], d.addr, dns.RcodeToString[r.Rcode])
	}
	return r.Answer
}

// exchangeWith queries addr over UDP with EDNS0, again over TCP when the
// reply is truncated; with key the query is signed and the reply must be
// signed (and is verified by the dns package).
func exchangeWith(addr, name string, qtype uint16, key *tsig.Spec, timeout time.Duration) (*dns.Msg, error) {
	var p *tsig.Key
	if key != nil {
		var err error
		if p, err = key.Compile(); err != nil {
			return nil, err
		}
	}
	var r *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		// A fresh message per transport: signing strips the TSIG stub.
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		m.SetEdns0(4096, false)
		c := &dns.Client{Net: network, Timeout: timeout}
		if p != nil {
			c.TsigProvider = p
			m.SetTsig(p.Name, p.Algorithm, 300, time.Now().Unix())
		}
		var err error
		r, _, err = c.Exchange(m, addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", network, err)
		}
		if !r.Truncated {
			break
		}
	}
	if key != nil && r.IsTsig() == nil {
		return nil, fmt.Errorf("unsigned reply to a signed query (%s)", dns.RcodeToString[r.Rcode])
	}
	return r, nil
}

// serverKey validates a TSIG key for a server configuration and returns
// its owner name (with the trailing dot) and the algorithm as Knot and
// PowerDNS spell it: "hmac-sha256", "hmac-md5" (RFC 8945 §6).
func serverKey(s tsig.Spec) (name, alg string, err error) {
	k, err := s.Compile()
	if err != nil {
		return "", "", err
	}
	alg = strings.TrimSuffix(k.Algorithm, ".")
	if alg == strings.TrimSuffix(dns.HmacMD5, ".") {
		alg = "hmac-md5"
	}
	return k.Name, alg, nil
}

// server is what the DNS servers tests start (named, Knot, PowerDNS) have
// in common; they embed it.
type server struct{ d *daemon }

// Start starts the server again (after Stop) with the same configuration,
// directory and port; its data keeps earlier updates. It waits until every
// zone answers and registers Stop as a cleanup.
func (s server) Start(t testing.TB) {
	t.Helper()
	s.d.start(t)
}

// Stop stops the server: SIGTERM, then SIGKILL after 5 s. It may be called
// several times.
func (s server) Stop() { s.d.stop() }

// Log returns the server's output (and that of set-up commands) so far.
func (s server) Log() string { return s.d.log.String() }

// Query sends an unsigned query and returns the answer section (over TCP
// when the UDP reply is truncated); it fails the test on a transport error
// or an RCODE other than NOERROR/NXDOMAIN.
func (s server) Query(t testing.TB, name string, qtype uint16) []dns.RR {
	t.Helper()
	return s.d.query(t, name, qtype, nil)
}

// QuerySigned is Query signed with key; the reply's TSIG is verified.
func (s server) QuerySigned(t testing.TB, name string, qtype uint16, key tsig.Spec) []dns.RR {
	t.Helper()
	return s.d.query(t, name, qtype, &key)
}
