package testenv

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/bindconf"
)

// SecondaryOptions configures StartSecondary.
type SecondaryOptions struct {
	// Zones are the zone apexes transferred from Primary.
	Zones []string
	// Primary is the "ip:port" of the primary server (NOTIFY is accepted
	// from its IP address).
	Primary string
	// Port is the port on 127.0.0.1; 0 = a free port.
	Port int
}

// StartSecondary starts a named on 127.0.0.1 that is a secondary (slave)
// of Primary for every zone, with IXFR requested and NOTIFY accepted from
// the primary's address. It returns once every zone has been transferred
// and answers SOA (so the primary must be serving), and stops named when
// the test ends. The returned Named supports Stop, Start, Query and Log.
func StartSecondary(t testing.TB, opts SecondaryOptions) *Named {
	t.Helper()
	bin := Require(t, "named")[0]
	if len(opts.Zones) == 0 {
		t.Fatal("StartSecondary: no zones")
	}
	host, pport, err := net.SplitHostPort(opts.Primary)
	if err != nil {
		t.Fatalf("StartSecondary: primary %q: %v", opts.Primary, err)
	}
	if opts.Port == 0 {
		opts.Port = FreePort(t, "127.0.0.1")
	}
	dir := t.TempDir()
	n := newNamed(bin, dir, NamedOptions{Zones: opts.Zones, Port: opts.Port})
	var b strings.Builder
	q := strconv.Quote
	b.WriteString(bindconf.Options(dir, opts.Port, "request-ixfr yes;"))
	for _, z := range opts.Zones {
		zone := dns.Fqdn(z)
		fmt.Fprintf(&b, "zone %s {\n\ttype secondary;\n\tprimaries { %s port %s; };\n\tfile %s;\n\tallow-notify { %s; };\n\tmasterfile-format text;\n};\n",
			q(zone), host, pport, q(zoneFile(dir, "secondary", z)), host)
	}
	if err := os.WriteFile(n.Conf, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("StartSecondary: %v", err)
	}
	n.Start(t)
	return n
}
