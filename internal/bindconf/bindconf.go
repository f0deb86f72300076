// Package bindconf writes the parts of a named.conf that every throwaway
// BIND instance of the project shares (tests, secondaries, the bench
// harness): everything under one directory, loopback only, no rndc, no
// recursion; and ZoneFile, the zone file every throwaway server (named,
// Knot, PowerDNS) starts a zone from.
package bindconf

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Options returns the options and controls blocks for a named listening on
// 127.0.0.1:port with all its files under dir; extra lines (e.g.
// "request-ixfr yes;") go inside options.
func Options(dir string, port int, extra ...string) string {
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, `options {
	directory %s;
	pid-file %s;
	session-keyfile %s;
	managed-keys-directory %s;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-transfer { none; };
`, q(dir), q(filepath.Join(dir, "named.pid")), q(filepath.Join(dir, "session.key")), q(dir), port)
	for _, e := range extra {
		b.WriteString("\t" + e + "\n")
	}
	b.WriteString("};\ncontrols { };\n")
	return b.String()
}

// ZoneFileName is the base name of zone's file: lower case, no final
// dot, ".zone" ("lb.example.org.zone").
func ZoneFileName(zone string) string {
	return strings.TrimSuffix(strings.ToLower(dns.Fqdn(zone)), ".") + ".zone"
}

// ZoneFile is the initial content of a throwaway zone in master-file
// format (RFC 1035 §5): SOA, NS ns1.<zone> and A 127.0.0.1 for ns1.<zone>.
func ZoneFile(zone string) string {
	if !strings.HasSuffix(zone, ".") {
		zone += "."
	}
	return fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 60\n@ IN NS ns1.%s\nns1.%s IN A 127.0.0.1\n",
		zone, zone, zone, zone, zone)
}
