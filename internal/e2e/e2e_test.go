package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/testenv"
	"github.com/lbd-project/lbd/internal/tsig"
)

var binDir string

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer = testenv.Buffer

func TestMain(m *testing.M) {
	testenv.RunWithBinaries(m, func(dir string) { binDir = dir }, "lbd", "lbclient", "lbsim")
}

const (
	snmpPassword = "e2e-secret-pw"
	tsigSecret   = "ZTJlLXRlc3QtdHNpZy1zZWNyZXQtMzItYnl0ZXMhIQ=="
	extSecret    = "ZXh0ZXJuYWwtdmlldy1rZXktZm9yLXRoZS1lMmUtdGVzdA=="
	wrongSecret  = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="
)

// lbdKey is the TSIG key the tests' lbd instances update their servers
// with (secret tsigSecret).
var lbdKey = tsig.Spec{Name: "lbd-key.", Algorithm: "hmac-sha256", Secret: tsigSecret}

// agent is one lbclient process with its own fixture root.
type agent struct {
	IP   string
	Port int
	Root string
	// Config is the lbclient.toml it runs with (rewrite it and SIGHUP).
	Config string
	cmd    *exec.Cmd
	log    *syncBuffer
}

// startAgent runs bin/lbclient on ip:port serving alias with a constant
// load, checks nologin, evaluating every 100ms.
func startAgent(t *testing.T, ip string, port int, alias string, load int) *agent {
	t.Helper()
	return startAgentWith(t, ip, port, alias, load, "")
}

// startAgentWith is startAgent with more [agent] lines (TOML).
func startAgentWith(t *testing.T, ip string, port int, alias string, load int, agentLines string) *agent {
	t.Helper()
	dir := t.TempDir()
	a := &agent{IP: ip, Port: port, Root: filepath.Join(dir, "root"), log: &syncBuffer{}}
	if err := os.MkdirAll(filepath.Join(a.Root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`[agent]
listen = ["%s:%d"]
root = %q
community = "public"
users = [{ name = "loadbalancing", auth_protocol = "md5", auth_password = %q }]
interval = "100ms"
%s
[[alias]]
name = %q
checks = ["nologin"]
loads = [{ type = "constant", data = "%d" }]
`, ip, port, a.Root, snmpPassword, agentLines, alias, load)
	path := filepath.Join(dir, "lbclient.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a.Config = path
	a.cmd = exec.Command(filepath.Join(binDir, "lbclient"), "-config", path)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		a.cmd.Wait()
		if t.Failed() {
			t.Logf("lbclient %s log:\n%s", ip, a.log.String())
		}
	})
	// Ready once it answers the configured load (bounded: 10 s).
	a.waitLoad(t, load)
	return a
}

// get returns the agent's current answer over SNMP v2c.
func (a *agent) get() (int, error) {
	g := &gosnmp.GoSNMP{Target: a.IP, Port: uint16(a.Port), Community: "public", Version: gosnmp.Version2c,
		Timeout: 300 * time.Millisecond, Retries: 0}
	if err := g.Connect(); err != nil {
		return 0, err
	}
	defer g.Conn.Close()
	pkt, err := g.Get([]string{".1.3.6.1.4.1.96.255.1"})
	if err != nil {
		return 0, err
	}
	if len(pkt.Variables) != 1 {
		return 0, errors.New("no varbind")
	}
	switch v := pkt.Variables[0].Value.(type) {
	case int:
		return v, nil
	default:
		return 0, fmt.Errorf("unexpected %T %v", v, v)
	}
}

func (a *agent) waitLoad(t *testing.T, want int) {
	t.Helper()
	var last int
	var err error
	for i := 0; i < 100; i++ {
		if last, err = a.get(); err == nil && last == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("agent %s: load %d (err %v), want %d\n%s", a.IP, last, err, want, a.log.String())
}

func (a *agent) nologin(t *testing.T, on bool) {
	t.Helper()
	p := filepath.Join(a.Root, "etc", "nologin")
	if on {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	os.Remove(p)
}

type lbdOpts struct {
	Role       string
	Server     string
	Secret     string
	SNMPPort   int
	Alias      string
	Members    []string
	BestHosts  int
	TTL        string
	HTTP       string
	URL        string
	Interval   string
	StaleAfter string
	Polling    string
	External   bool
	Servers    []string
	// Embedded, when set, is the listen address of lbd's embedded DNS
	// server (zone "lb.test"), which lbd then writes to.
	Embedded string
	DataDir  string
	// Extra is appended to the file (more [[alias]] tables).
	Extra string
	// ExtKey configures dns.external_key (also implied by External).
	ExtKey bool
	// StateDir is [lbd] state_dir.
	StateDir string
	// TokenFile is [lbd] admin_token_file.
	TokenFile string
	// AuditLog is [lbd] audit_log.
	AuditLog string
	// LeaseTTL is [dns] lease_ttl.
	LeaseTTL string
	// DNSTimeout and DNSRetries replace the short defaults of the tests.
	DNSTimeout string
	DNSRetries int
}

func writeLBDConfig(t *testing.T, o lbdOpts) string {
	t.Helper()
	if o.Secret == "" {
		o.Secret = tsigSecret
	}
	if o.Interval == "" {
		o.Interval = "200ms"
	}
	if o.StaleAfter == "" {
		o.StaleAfter = "2s"
	}
	if o.Polling == "" {
		o.Polling = "300ms"
	}
	if o.TTL == "" {
		o.TTL = "60s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[lbd]\nrole = %q\nmaster = \"master.test\"\ntick = \"100ms\"\n", o.Role)
	if o.HTTP != "" {
		fmt.Fprintf(&b, "http_listen = %q\n", o.HTTP)
	}
	if o.StateDir != "" {
		fmt.Fprintf(&b, "state_dir = %q\n", o.StateDir)
	}
	if o.TokenFile != "" {
		fmt.Fprintf(&b, "admin_token_file = %q\n", o.TokenFile)
	}
	if o.AuditLog != "" {
		fmt.Fprintf(&b, "audit_log = %q\n", o.AuditLog)
	}
	fmt.Fprintf(&b, "[heartbeat]\ninterval = %q\nstale_after = %q\n", o.Interval, o.StaleAfter)
	if o.URL != "" {
		fmt.Fprintf(&b, "url = %q\n", o.URL)
	}
	if o.Embedded != "" {
		fmt.Fprintf(&b, "[authoritative]\nlisten = %q\ndata_dir = %q\n", o.Embedded, o.DataDir)
		fmt.Fprintf(&b, "keys = [{ name = \"lbd-key.\", algorithm = \"hmac-sha256\", secret = %q }]\n", o.Secret)
		fmt.Fprintf(&b, "[[authoritative.zone]]\nname = \"lb.test\"\nns = [\"ns1.lb.test.\"]\nupdate_keys = [\"lbd-key.\"]\n")
		fmt.Fprintf(&b, "[dns]\ntimeout = \"1s\"\nretries = 1\n")
	} else if len(o.Servers) > 0 {
		fmt.Fprintf(&b, "[dns]\nservers = [")
		for i, s := range o.Servers {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", s)
		}
		timeout, retries := "500ms", 1
		if o.DNSTimeout != "" {
			timeout, retries = o.DNSTimeout, o.DNSRetries
		}
		fmt.Fprintf(&b, "]\ntimeout = %q\nretries = %d\n", timeout, retries)
	} else {
		fmt.Fprintf(&b, "[dns]\nserver = %q\ntimeout = \"1s\"\nretries = 1\n", o.Server)
	}
	fmt.Fprintf(&b, "internal_key = { name = \"lbd-key.\", algorithm = \"hmac-sha256\", secret = %q }\n", o.Secret)
	if o.LeaseTTL != "" {
		fmt.Fprintf(&b, "lease_ttl = %q\n", o.LeaseTTL)
	}
	if o.External || o.ExtKey {
		fmt.Fprintf(&b, "external_key = { name = \"lbd-ext.\", algorithm = \"hmac-sha512\", secret = %q }\n", extSecret)
	}
	fmt.Fprintf(&b, "[snmp]\nversion = \"3\"\nport = %d\nauth_protocol = \"md5\"\nauth_password = %q\ntimeout = \"500ms\"\nretries = 1\n", o.SNMPPort, snmpPassword)
	fmt.Fprintf(&b, "[defaults]\npolling_interval = %q\n", o.Polling)
	if o.Alias != "" {
		fmt.Fprintf(&b, "[[alias]]\nname = %q\nmembers = [", o.Alias)
		for i, m := range o.Members {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", m)
		}
		fmt.Fprintf(&b, "]\nbest_hosts = %d\nttl = %q\nexternal = %v\n", o.BestHosts, o.TTL, o.External)
	}
	b.WriteString(o.Extra)
	path := filepath.Join(t.TempDir(), "lbd.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runLBD runs bin/lbd to completion (bounded: 60 s).
func runLBD(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "lbd"), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// startLBD runs bin/lbd as a daemon until the test ends (or stop is called).
func startLBD(t *testing.T, args ...string) (stop func(), log *syncBuffer) {
	stop, log, _ = startLBDCmd(t, args...)
	return stop, log
}

// startLBDCmd is startLBD also returning the process (to signal it).
func startLBDCmd(t *testing.T, args ...string) (stop func(), log *syncBuffer, cmd *exec.Cmd) {
	t.Helper()
	log = &syncBuffer{}
	cmd = exec.Command(filepath.Join(binDir, "lbd"), args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		cmd.Process.Kill()
		cmd.Wait()
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("lbd %v log:\n%s", args, log.String())
		}
	})
	return stop, log, cmd
}

// published returns the sorted A/AAAA addresses named serves for name, and
// the TTLs seen.
func published(t *testing.T, n *testenv.Named, name string) ([]string, []uint32) {
	t.Helper()
	var addrs []string
	var ttls []uint32
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range n.Query(t, name, qt) {
			switch r := rr.(type) {
			case *dns.A:
				addrs = append(addrs, r.A.String())
				ttls = append(ttls, r.Hdr.Ttl)
			case *dns.AAAA:
				addrs = append(addrs, r.AAAA.String())
				ttls = append(ttls, r.Hdr.Ttl)
			}
		}
	}
	sort.Strings(addrs)
	return addrs, ttls
}

func equal(a, b []string) bool { return strings.Join(a, " ") == strings.Join(b, " ") }

// ensureLoopback makes sure 127.0.0.x addresses are usable (Linux routes all
// of 127/8 to lo; other systems may not).
func ensureLoopback(t *testing.T, ips ...string) {
	t.Helper()
	for _, ip := range ips {
		if !netip.MustParseAddr(ip).IsLoopback() {
			t.Fatalf("%s is not loopback", ip)
		}
	}
}
