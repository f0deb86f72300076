package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/bindconf"
	"github.com/lbd-project/lbd/internal/tsig"
)

// PDNSOptions configures StartPowerDNS.
type PDNSOptions struct {
	// Zones are the zone apexes served, e.g. "lb.example.org". Each gets an
	// SOA, an NS ns1.<zone> and an A 127.0.0.1 for ns1.<zone>.
	Zones []string
	// Keys may update every zone (TSIG-ALLOW-DNSUPDATE metadata naming
	// each key); without keys the server accepts no update.
	Keys []tsig.Spec
	// Port is the port on 127.0.0.1; 0 = a free port.
	Port int
}

// PowerDNS is a running (or stopped) PowerDNS Authoritative Server for
// tests, with a gsqlite3 backend.
type PowerDNS struct {
	Addr     string // "127.0.0.1:port", UDP and TCP
	Dir      string // database, pdns.conf (for pdnsutil), control socket
	Database string // path of the SQLite database
	Opts     PDNSOptions

	server
	pdnsutilBin string
}

// pdnsSchemas are where Debian's pdns-backend-sqlite3 puts the schema.
var pdnsSchemas = []string{
	"/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
	"/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
}

// StartPowerDNS creates a SQLite database in a temporary directory (the
// packaged schema, loaded with sqlite3), loads the zones and imports the
// TSIG keys with pdnsutil, and starts pdns_server on 127.0.0.1 only, in the
// foreground, without the guardian, with no configuration file but its
// flags, as the current user, with dynamic updates (RFC 2136) signed with
// one of Keys accepted from 127.0.0.0/8. It returns once every zone
// answers SOA and stops the server when the test ends; the output is kept
// for Log and printed when the test fails.
func StartPowerDNS(t testing.TB, opts PDNSOptions) *PowerDNS {
	t.Helper()
	bins := Require(t, "pdns_server", "pdnsutil", "sqlite3")
	if len(opts.Zones) == 0 {
		t.Fatal("StartPowerDNS: no zones")
	}
	schema := ""
	for _, s := range pdnsSchemas {
		if _, err := os.Stat(s); err == nil {
			schema = s
			break
		}
	}
	if schema == "" {
		msg := fmt.Sprintf("!!! PowerDNS SQLite schema not found in %v (install Debian package %q)", pdnsSchemas, "pdns-backend-sqlite3")
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, "127.0.0.1")
	}
	dir := t.TempDir()
	p := &PowerDNS{
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		Dir:         dir,
		Database:    filepath.Join(dir, "pdns.sqlite3"),
		Opts:        opts,
		pdnsutilBin: bins[1],
	}
	backend := []string{
		"launch=gsqlite3",
		"gsqlite3-database=" + p.Database,
		// No fsync per write: the database is thrown away after the test.
		"gsqlite3-pragma-synchronous=0",
	}
	p.d = newDaemon("pdns_server", bins[0], dir, p.Addr, opts.Zones)
	p.d.logOnFailure(t)
	if err := p.setup(bins[2], schema, backend); err != nil {
		t.Fatalf("StartPowerDNS: %v\n%s", err, p.Log())
	}
	update := "no"
	if len(opts.Keys) > 0 {
		update = "yes"
	}
	p.d.args = []string{
		"--no-config", "--daemon=no", "--guardian=no", "--disable-syslog", "--write-pid=no",
		"--socket-dir=" + dir,
		"--local-address=127.0.0.1", "--local-port=" + strconv.Itoa(opts.Port),
		// Updates from loopback only; each zone's TSIG-ALLOW-DNSUPDATE
		// then requires one of Keys.
		"--dnsupdate=" + update,
		"--allow-dnsupdate-from=127.0.0.0/8",
		// Never query the outside world (the security status poll).
		"--security-poll-suffix=",
		// The packet and query caches keep their defaults: PowerDNS
		// purges the zone from them when it commits an UPDATE, so a read
		// back sees the change (dnsupdate's server tests rely on it).
		"--receiver-threads=1", "--distributor-threads=1",
		"--loglevel=6",
	}
	for _, s := range backend {
		p.d.args = append(p.d.args, "--"+s)
	}
	p.Start(t)
	return p
}

// setup creates the database and fills it: zones, keys, per-zone
// TSIG-ALLOW-DNSUPDATE metadata.
func (p *PowerDNS) setup(sqlite3, schema string, backend []string) error {
	sql, err := os.ReadFile(schema)
	if err != nil {
		return err
	}
	cmd := exec.Command(sqlite3, p.Database)
	cmd.Stdin = strings.NewReader(string(sql))
	if err := p.run(cmd); err != nil {
		return err
	}
	// pdnsutil has no --no-config: it reads the backend from pdns.conf.
	conf := strings.Join(backend, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(p.Dir, "pdns.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	var keys []string
	for _, s := range p.Opts.Keys {
		name, alg, err := serverKey(s)
		if err != nil {
			return err
		}
		if err := p.pdnsutil("import-tsig-key", name, alg, s.Secret); err != nil {
			return err
		}
		keys = append(keys, name)
	}
	for _, z := range p.Opts.Zones {
		file := filepath.Join(p.Dir, bindconf.ZoneFileName(z))
		if err := os.WriteFile(file, []byte(bindconf.ZoneFile(z)), 0o644); err != nil {
			return err
		}
		if err := p.pdnsutil("load-zone", dns.Fqdn(z), file); err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := p.pdnsutil(append([]string{"set-meta", dns.Fqdn(z), "TSIG-ALLOW-DNSUPDATE"}, keys...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// pdnsutil runs pdnsutil on the test database.
func (p *PowerDNS) pdnsutil(args ...string) error {
	return p.run(exec.Command(p.pdnsutilBin, append([]string{"--config-dir=" + p.Dir}, args...)...))
}

// run runs a set-up command, its output going to the log.
func (p *PowerDNS) run(cmd *exec.Cmd) error {
	fmt.Fprintf(p.d.log, "=== %s\n", strings.Join(cmd.Args, " "))
	cmd.Dir = p.Dir
	cmd.Stdout = p.d.log
	cmd.Stderr = p.d.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(cmd.Args[:2], " "), err)
	}
	return nil
}
