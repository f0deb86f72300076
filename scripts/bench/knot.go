package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"

	"github.com/lbd-project/lbd/internal/knotconf"
)

// startKnot starts a throwaway knotd on 127.0.0.1 serving zones, every one
// of which keyName may update, with Knot's default workers and journal
// (LMDB under dir), syncing at each update what sync says; it returns once
// the first and last zone answer SOA.
func startKnot(ctx context.Context, dir string, zones []string, secret string, sync knotconf.Sync) (*dnsServer, error) {
	bin, port, err := serverSetup("knotd", "Knot DNS", "knot", dir)
	if err != nil {
		return nil, err
	}
	conf, err := knotconf.Write(knotconf.Options{Dir: dir, Port: port, LogLevel: "warning", Zones: zones, Sync: sync,
		Keys: []knotconf.Key{{Name: keyName, Algorithm: "hmac-sha256", Secret: secret}}})
	if err != nil {
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
