package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// startKnot starts a throwaway knotd on 127.0.0.1 serving zones, every one
// of which keyName may update, with Knot's default workers and journal
// (LMDB under dir, synchronous: journal-db-mode robust); it returns once
// the first and last zone answer SOA.
func startKnot(ctx context.Context, dir string, zones []string, secret string) (*dnsServer, error) {
	bin, port, err := serverSetup("knotd", "Knot DNS", "knot", dir)
	if err != nil {
		return nil, err
	}
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n    listen: %s\n    rundir: %s\n", q(fmt.Sprintf("127.0.0.1@%d", port)), q(dir))
	fmt.Fprintf(&b, "database:\n    storage: %s\n    journal-db: %s\n    timer-db: %s\n",
		q(dir), q(filepath.Join(dir, "journal")), q(filepath.Join(dir, "timers")))
	b.WriteString("log:\n  - target: stderr\n    any: warning\n")
	fmt.Fprintf(&b, "key:\n  - id: %s\n    algorithm: hmac-sha256\n    secret: %s\n", q(keyName), q(secret))
	fmt.Fprintf(&b, "acl:\n  - id: update\n    key: [%s]\n    action: update\n", q(keyName))
	b.WriteString("zone:\n")
	for _, z := range zones {
		zone := dns.Fqdn(z)
		file := filepath.Join(dir, strings.TrimSuffix(zone, ".")+".zone")
		fmt.Fprintf(&b, "  - domain: %s\n    file: %s\n    acl: update\n", q(zone), q(file))
		if err := os.WriteFile(file, []byte(zoneFileData(zone)), 0o644); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(bin, filepath.Join(dir, "knotd.log"), "", "-c", conf)
	if err != nil {
		return nil, err
	}
	k := &dnsServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), p: p}
	if err := waitZones(ctx, "knotd", k.addr, zones, p); err != nil {
		return nil, err
	}
	return k, nil
}
