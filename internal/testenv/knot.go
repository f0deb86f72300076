package testenv

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lbd-project/lbd/internal/knotconf"
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
	o := knotconf.Options{Dir: k.Dir, Port: k.Opts.Port, SingleWorkers: true, Zones: k.Opts.Zones}
	for _, s := range k.Opts.Keys {
		name, alg, err := serverKey(s)
		if err != nil {
			return err
		}
		o.Keys = append(o.Keys, knotconf.Key{Name: name, Algorithm: alg, Secret: s.Secret})
	}
	conf, err := knotconf.Write(o)
	k.Conf = conf
	return err
}
