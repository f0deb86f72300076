package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
)

// usage is lbd -h: what the command does, two examples, then the flags.
func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprint(out, `lbd keeps DNS aliases pointing at the best members of a pool. It polls
every member's lbclient agent over SNMP, picks the best hosts of each alias
and writes the alias's A/AAAA records to its DNS servers with TSIG-signed
dynamic updates (RFC 2136), owning the records it writes and fencing every
write with the zone's lease. A master writes; a slave takes over while the
master's heartbeat is stale. SIGHUP reloads the configuration (and reopens
-log-file and the audit log); SIGTERM stops.

Examples:
  lbd -config /etc/lbd/lbd.toml                        run the daemon
  lbd -config /etc/lbd/lbd.toml -dry-run               show the changes one cycle would make
  lbd -config /etc/lbd/lbd.toml -drain www.lb.example.org/node1 -for 2h -reason "kernel upgrade"

Flags:
`)
	flag.PrintDefaults()
}

// logFile is -log-file: the log's destination, reopened on SIGHUP (after a
// rotation). Its Write never fails the caller.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	l := &logFile{path: path}
	return l, l.Reopen()
}

// Reopen opens the file again (appending, mode 0640) and closes the old one.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("-log-file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}
