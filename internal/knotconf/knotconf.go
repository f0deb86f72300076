package knotconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lbd-project/lbd/internal/bindconf"
	"github.com/miekg/dns"
)

// Key is a TSIG key as Knot spells it: name with the trailing dot,
// algorithm "hmac-sha256", "hmac-md5", …, base64 secret.
type Key struct{ Name, Algorithm, Secret string }

// Options are what the configuration says.
type Options struct {
	Dir  string // the server's directory
	Port int    // on 127.0.0.1
	// SingleWorkers runs one UDP, one TCP and one background worker
	// (tests); otherwise Knot's defaults.
	SingleWorkers bool
	LogLevel      string // "info", "warning", …; default "info"
	Sync          Sync   // what Knot syncs at each update; default SyncAll
	Keys          []Key  // may update every zone
	Zones         []string
}

// Sync is what Knot writes to disk at each update.
type Sync int

const (
	// SyncAll is Knot's default: the journal, synced (journal-db-mode
	// robust), and the zone file, rewritten (zonefile-sync 0).
	SyncAll Sync = iota
	// SyncJournal syncs the journal only: zonefile-sync -1, the zone
	// files are never rewritten and the journal holds the changes (still
	// durable: Knot applies the journal to the zone file when it loads).
	SyncJournal
	// SyncNothing: journal-db-mode asynchronous too. Not durable; for
	// measuring what a server's durability costs.
	SyncNothing
)

// Write writes the configuration and, for every zone, its file
// (bindconf.ZoneFile) into o.Dir; it returns the configuration's path.
func Write(o Options) (string, error) {
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n    listen: %s\n    rundir: %s\n", q(fmt.Sprintf("127.0.0.1@%d", o.Port)), q(o.Dir))
	if o.SingleWorkers {
		b.WriteString("    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n")
	}
	fmt.Fprintf(&b, "database:\n    storage: %s\n    journal-db: %s\n    timer-db: %s\n",
		q(o.Dir), q(filepath.Join(o.Dir, "journal")), q(filepath.Join(o.Dir, "timers")))
	if o.Sync == SyncNothing {
		b.WriteString("    journal-db-mode: asynchronous\n")
	}
	level := o.LogLevel
	if level == "" {
		level = "info"
	}
	fmt.Fprintf(&b, "log:\n  - target: stderr\n    any: %s\n", level)
	var ids []string
	if len(o.Keys) > 0 {
		b.WriteString("key:\n")
		for _, k := range o.Keys {
			fmt.Fprintf(&b, "  - id: %s\n    algorithm: %s\n    secret: %s\n", q(k.Name), k.Algorithm, q(k.Secret))
			ids = append(ids, q(k.Name))
		}
		fmt.Fprintf(&b, "acl:\n  - id: update\n    key: [%s]\n    action: update\n", strings.Join(ids, ", "))
	}
	b.WriteString("zone:\n")
	for _, z := range o.Zones {
		zone := dns.Fqdn(z)
		file := filepath.Join(o.Dir, bindconf.ZoneFileName(zone))
		fmt.Fprintf(&b, "  - domain: %s\n    file: %s\n", q(zone), q(file))
		if o.Sync != SyncAll {
			b.WriteString("    zonefile-sync: -1\n")
		}
		if len(ids) > 0 {
			b.WriteString("    acl: update\n")
		}
		if err := os.WriteFile(file, []byte(bindconf.ZoneFile(zone)), 0o644); err != nil {
			return "", err
		}
	}
	conf := filepath.Join(o.Dir, "knot.conf")
	return conf, os.WriteFile(conf, []byte(b.String()), 0o644)
}
