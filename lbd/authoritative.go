package lbd

import (
	"context"
	"fmt"

	"github.com/lbd-project/lbd/dnsserver"
)

// startAuthoritative runs the embedded DNS server when [authoritative] is
// configured. stop shuts it down and waits for it (its journal is fsynced
// per update, so nothing acknowledged is lost either way).
func (d *Daemon) startAuthoritative(ctx context.Context) (stop func(), err error) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if cfg.Authoritative == nil {
		return func() {}, nil
	}
	sc := cfg.DNSServerConfig()
	log := d.log.WithField("component", "dnsserver")
	sc.Log = func(format string, args ...any) { log.Warnf(format, args...) }
	srv, err := dnsserver.New(sc)
	if err != nil {
		return nil, fmt.Errorf("embedded DNS server: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("embedded DNS server stopped: ", err)
		}
	}()
	log.WithField("listen", srv.Addr()).Infof("embedded DNS server serving %d zones", len(sc.Zones))
	d.mu.Lock()
	d.embedded = srv
	d.mu.Unlock()
	return func() { cancel(); <-done }, nil
}
