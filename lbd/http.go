package lbd

import (
	"encoding/json"
	"net/http"

	"github.com/lbd-project/lbd/heartbeat"
)

// Handler serves the heartbeat (master: the legacy line, and the
// authenticated beat with a heartbeat secret), /healthz and /status.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(heartbeat.Path, d.pub)
	mux.Handle(heartbeat.PathV2, d.pub.Signed())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
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
