package lbd

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lbd-project/lbd/heartbeat"
)

// Handler serves the heartbeat (master: the legacy line, and the
// authenticated beat with a heartbeat secret), /healthz and /status.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(heartbeat.Path, d.pub)
	mux.Handle(heartbeat.PathV2, d.pub.Signed())
	mux.HandleFunc("/healthz", d.serveHealth)
	mux.HandleFunc("/status", d.serveStatus)
	d.adminRoutes(mux)
	d.mu.Lock()
	for _, rt := range d.routes {
		mux.Handle(rt.pattern, rt.h)
	}
	d.mu.Unlock()
	return mux
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(d.Snapshot())
}

// Health reports what keeps this instance from doing its job, nil when
// nothing does: the embedded DNS server not serving (its accept or read
// loop failing, for example out of file descriptors).
func (d *Daemon) Health() error {
	d.mu.Lock()
	srv := d.embedded
	d.mu.Unlock()
	if srv != nil {
		if err := srv.Healthy(); err != nil {
			return fmt.Errorf("embedded DNS server: %w", err)
		}
	}
	return nil
}

// serveHealth is /healthz: 200 "ok", or 503 with the reason.
func (d *Daemon) serveHealth(w http.ResponseWriter, r *http.Request) {
	if err := d.Health(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
