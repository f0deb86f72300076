package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/bindconf"
	"github.com/lbd-project/lbd/internal/tsig"
)

// NamedOptions configures StartNamed.
type NamedOptions struct {
	// Zones are the zone apexes served, e.g. "lb.example.org". Each gets an
	// SOA, an NS ns1.<zone> and an A 127.0.0.1 for ns1.<zone>.
	Zones []string
	// Keys may update every zone (update-policy grant <key> zonesub ANY).
	Keys []tsig.Spec
	// ExternalKey, when set, makes named run two views, each with its own
	// copy of every zone: "external" for clients signing with ExternalKey
	// (which may update it) and "internal" for everyone else (Keys update
	// it).
	ExternalKey *tsig.Spec
	// KeyOnly makes the views match by key alone, as in the CERN internal /
	// external layout: "internal" for clients signing with one of Keys,
	// "external" (with ExternalKey) for that key, and no view for unsigned
	// clients, whose queries and updates are REFUSED. Query then reads the
	// internal view signed with Keys[0].
	KeyOnly bool
	// Port is the port on 127.0.0.1; 0 = a free port.
	Port int
}

// Named is a running (or stopped) BIND named for tests.
type Named struct {
	Addr string // "127.0.0.1:port", UDP and TCP
	Dir  string // working directory: named.conf, zone files, journals
	Conf string // path of named.conf
	Opts NamedOptions

	server // its runner's ready probes every zone in every view
}

// Buffer is a bytes.Buffer safe for a child process writing into it (via
// exec's copier) while the test reads it: named's output, agents' logs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartNamed writes a configuration and zone files into a temporary
// directory and starts named on 127.0.0.1 only (no IPv6, no rndc channel,
// no recursion). It returns once named answers SOA for every zone (in every
// view) and stops it when the test ends. named runs in the foreground (-g)
// as the current user; its output is kept for Log.
func StartNamed(t testing.TB, opts NamedOptions) *Named {
	t.Helper()
	bin := Require(t, "named")[0]
	if len(opts.Zones) == 0 {
		t.Fatal("StartNamed: no zones")
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, "127.0.0.1")
	}
	dir := t.TempDir()
	n := newNamed(bin, dir, opts)
	if err := n.writeConfig(); err != nil {
		t.Fatalf("StartNamed: %v", err)
	}
	n.Start(t)
	return n
}

// newNamed is a Named (not started) running bin in dir on 127.0.0.1:opts.Port
// with dir/named.conf, ready when every zone answers SOA in every view.
func newNamed(bin, dir string, opts NamedOptions) *Named {
	n := &Named{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		Dir:  dir,
		Conf: filepath.Join(dir, "named.conf"),
		Opts: opts,
	}
	n.d = newDaemon("named", bin, dir, n.Addr, opts.Zones)
	n.d.args = []string{"-g", "-4", "-n", "1", "-c", n.Conf}
	n.d.probe = n.ready
	return n
}

func keyAlgorithm(alg string) string {
	a := strings.TrimSuffix(strings.ToLower(alg), ".")
	switch a {
	case "":
		return "hmac-sha256"
	case "hmac-md5.sig-alg.reg.int":
		return "hmac-md5"
	}
	return a
}

func (n *Named) viewNames() []string {
	if n.Opts.KeyOnly && n.Opts.ExternalKey == nil {
		return []string{"internal"}
	}
	if n.Opts.ExternalKey == nil {
		return []string{""}
	}
	return []string{"external", "internal"}
}

func zoneFile(dir, view, zone string) string {
	base := bindconf.ZoneFileName(zone)
	if view != "" {
		base = view + "-" + base
	}
	return filepath.Join(dir, base)
}

func (n *Named) writeConfig() error {
	var b strings.Builder
	q := strconv.Quote
	b.WriteString(bindconf.Options(n.Dir, n.Opts.Port))
	keys := n.Opts.Keys
	if n.Opts.ExternalKey != nil {
		keys = append(append([]tsig.Spec(nil), keys...), *n.Opts.ExternalKey)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "key %s { algorithm %s; secret %s; };\n", q(dns.Fqdn(k.Name)), keyAlgorithm(k.Algorithm), q(k.Secret))
	}
	zones := func(indent, view string, ks []tsig.Spec) {
		for _, z := range n.Opts.Zones {
			zone := dns.Fqdn(z)
			fmt.Fprintf(&b, "%szone %s {\n%s\ttype primary;\n%s\tfile %s;\n", indent, q(zone), indent, indent, q(zoneFile(n.Dir, view, z)))
			if len(ks) > 0 {
				fmt.Fprintf(&b, "%s\tupdate-policy {\n", indent)
				for _, k := range ks {
					fmt.Fprintf(&b, "%s\t\tgrant %s zonesub ANY;\n", indent, q(dns.Fqdn(k.Name)))
				}
				fmt.Fprintf(&b, "%s\t};\n", indent)
			}
			fmt.Fprintf(&b, "%s};\n", indent)
		}
	}
	if n.Opts.KeyOnly {
		if ext := n.Opts.ExternalKey; ext != nil {
			fmt.Fprintf(&b, "view \"external\" {\n\tmatch-clients { key %s; };\n", q(dns.Fqdn(ext.Name)))
			zones("\t", "external", []tsig.Spec{*ext})
			b.WriteString("};\n")
		}
		b.WriteString("view \"internal\" {\n\tmatch-clients {")
		for _, k := range n.Opts.Keys {
			fmt.Fprintf(&b, " key %s;", q(dns.Fqdn(k.Name)))
		}
		b.WriteString(" };\n")
		zones("\t", "internal", n.Opts.Keys)
		b.WriteString("};\n")
	} else if ext := n.Opts.ExternalKey; ext != nil {
		fmt.Fprintf(&b, "view \"external\" {\n\tmatch-clients { key %s; };\n", q(dns.Fqdn(ext.Name)))
		zones("\t", "external", []tsig.Spec{*ext})
		fmt.Fprintf(&b, "};\nview \"internal\" {\n\tmatch-clients { !key %s; any; };\n", q(dns.Fqdn(ext.Name)))
		zones("\t", "internal", n.Opts.Keys)
		b.WriteString("};\n")
	} else {
		zones("", "", n.Opts.Keys)
	}
	if err := os.WriteFile(n.Conf, []byte(b.String()), 0o644); err != nil {
		return err
	}
	for _, view := range n.viewNames() {
		for _, z := range n.Opts.Zones {
			zone := dns.Fqdn(z)
			data := fmt.Sprintf("$TTL 300\n@ IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 60\n@ IN NS ns1.%s\nns1.%s IN A 127.0.0.1\n",
				zone, zone, zone, zone)
			if err := os.WriteFile(zoneFile(n.Dir, view, z), []byte("$ORIGIN "+zone+"\n"+data), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// ready checks that every zone answers SOA, in each view.
func (n *Named) ready() error {
	for _, z := range n.Opts.Zones {
		keys := []*tsig.Spec{n.internalKey()}
		if n.Opts.ExternalKey != nil {
			keys = append(keys, n.Opts.ExternalKey)
		}
		for _, k := range keys {
			if err := soaReady(n.Addr, z, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Query sends an unsigned query (internal view when there are views) and
// returns the answer section; it fails the test on a transport error or an
// RCODE other than NOERROR/NXDOMAIN.
func (n *Named) Query(t testing.TB, name string, qtype uint16) []dns.RR {
	t.Helper()
	return n.QueryView(t, name, qtype, n.internalKey())
}

// internalKey is what reads the internal view: nothing, or Keys[0] with
// KeyOnly.
func (n *Named) internalKey() *tsig.Spec {
	if n.Opts.KeyOnly && len(n.Opts.Keys) > 0 {
		return &n.Opts.Keys[0]
	}
	return nil
}

// Refuses reports whether an unsigned query for name is REFUSED (KeyOnly).
func (n *Named) Refuses(t testing.TB, name string) bool {
	t.Helper()
	r, err := n.exchange(dns.Fqdn(name), dns.TypeSOA, nil, 2*time.Second)
	if err != nil {
		t.Fatalf("query %s at %s: %v", name, n.Addr, err)
	}
	return r.Rcode == dns.RcodeRefused
}

// QueryView is Query signed with key (nil = unsigned); with ExternalKey it
// reads the external view. The reply's TSIG is verified.
func (n *Named) QueryView(t testing.TB, name string, qtype uint16, key *tsig.Spec) []dns.RR {
	t.Helper()
	r, err := n.exchange(dns.Fqdn(name), qtype, key, 2*time.Second)
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], n.Addr, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("query %s %s at %s: %s", name, dns.TypeToString[qtype], n.Addr, dns.RcodeToString[r.Rcode])
	}
	return r.Answer
}

func (n *Named) exchange(name string, qtype uint16, key *tsig.Spec, timeout time.Duration) (*dns.Msg, error) {
	return exchangeWith(n.Addr, name, qtype, key, timeout)
}
