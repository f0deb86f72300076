package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// KnotOptions configures StartKnot.
type KnotOptions struct {
	// Zones are the zone apexes served, e.g. "lb.example.org". Each gets an
	// SOA, an NS ns1.<zone> and an A 127.0.0.1 for ns1.<zone>.
	Zones []string
	// Keys may update every zone (an acl with action: update).
	Keys []tsig.Spec
	// Port is the port on 127.0.0.1; 0 = a free port.
	Port int
}

// Knot is a running (or stopped) Knot DNS knotd for tests.
type Knot struct {
	Addr string // "127.0.0.1:port", UDP and TCP
	Dir  string // knot.conf, zone files, journal, timer and control socket
	Conf string // path of knot.conf
	Opts KnotOptions

	server
}

// StartKnot writes a configuration and zone files into a temporary
// directory and starts knotd on 127.0.0.1 only, in the foreground, as the
// current user (no server.user, so root keeps running as root), with its
// journal, timer database and control socket in that directory. It returns
// once knotd answers SOA for every zone, and stops it when the test ends.
// knotd's output is kept for Log and printed when the test fails.
func StartKnot(t testing.TB, opts KnotOptions) *Knot {
	t.Helper()
	bin := Require(t, "knotd")[0]
	if len(opts.Zones) == 0 {
		t.Fatal("StartKnot: no zones")
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, "127.0.0.1")
	}
	dir := t.TempDir()
	k := &Knot{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		Dir:  dir,
		Conf: filepath.Join(dir, "knot.conf"),
		Opts: opts,
	}
	if err := k.writeConfig(); err != nil {
		t.Fatalf("StartKnot: %v", err)
	}
	k.d = newDaemon("knotd", bin, dir, k.Addr, opts.Zones)
	k.d.args = []string{"-c", k.Conf}
	k.d.logOnFailure(t)
	k.Start(t)
	return k
}

func (k *Knot) writeConfig() error {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "server:\n    listen: %s\n    rundir: %s\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n",
		q(fmt.Sprintf("127.0.0.1@%d", k.Opts.Port)), q(k.Dir))
	fmt.Fprintf(&b, "database:\n    storage: %s\n    journal-db: %s\n    timer-db: %s\n",
		q(k.Dir), q(filepath.Join(k.Dir, "journal")), q(filepath.Join(k.Dir, "timers")))
	b.WriteString("log:\n  - target: stderr\n    any: info\n")
	var ids []string
	if len(k.Opts.Keys) > 0 {
		b.WriteString("key:\n")
		for _, s := range k.Opts.Keys {
			name, alg, err := serverKey(s)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "  - id: %s\n    algorithm: %s\n    secret: %s\n", q(name), alg, q(s.Secret))
			ids = append(ids, q(name))
		}
		fmt.Fprintf(&b, "acl:\n  - id: update\n    key: [%s]\n    action: update\n", strings.Join(ids, ", "))
	}
	b.WriteString("zone:\n")
	for _, z := range k.Opts.Zones {
		file := filepath.Join(k.Dir, zoneBase(z)+".zone")
		fmt.Fprintf(&b, "  - domain: %s\n    file: %s\n", q(dns.Fqdn(z)), q(file))
		if len(ids) > 0 {
			b.WriteString("    acl: update\n")
		}
		if err := os.WriteFile(file, []byte(zoneData(z)), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(k.Conf, []byte(b.String()), 0o644)
}
