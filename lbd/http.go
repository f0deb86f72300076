package lbd

import (
	"encoding/json"
	"net/http"
	"time"

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
	return mux
}

type aliasStatus struct {
	Hosts     []string  `json:"hosts"`
	Addrs     []string  `json:"addresses"`
	Fallback  string    `json:"fallback,omitempty"`
	Usable    int       `json:"usable_members"`
	LastEval  time.Time `json:"last_evaluation"`
	LastWrite time.Time `json:"last_write,omitzero"`
	Error     string    `json:"error,omitempty"`
	// Servers maps each DNS server (and external view) to "ok" or its error.
	Servers map[string]string `json:"dns_servers,omitempty"`
}

// leaseStatus is one zone's lease as this instance last saw it.
type leaseStatus struct {
	Writing bool   `json:"writing"`
	Holder  string `json:"holder,omitempty"`
	Why     string `json:"why,omitempty"`
}

func (d *Daemon) serveStatus(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	out := struct {
		Host     string    `json:"host"`
		Master   bool      `json:"master"`
		LastBeat time.Time `json:"master_last_beat,omitzero"`
		// Authenticated: a heartbeat secret is configured (master: the
		// authenticated beat is served; slave: only it is believed).
		Authenticated bool `json:"heartbeat_authenticated"`
		// Counter is the highest authenticated beat counter accepted.
		Counter uint64                 `json:"master_beat_counter,omitempty"`
		Aliases map[string]aliasStatus `json:"aliases"`
		// Instance is this instance's name in zone leases; Leases is, per
		// DNS server (and view) and zone, whether it writes the zone.
		Instance string                            `json:"instance"`
		Fencing  bool                              `json:"fencing"`
		Leases   map[string]map[string]leaseStatus `json:"leases,omitempty"`
	}{Host: d.hostname, Master: d.cfg.IsMaster(d.hostname), LastBeat: d.follower.LastBeat(),
		Authenticated: d.cfg.Heartbeat.Key() != nil, Counter: d.verifier.Highest(), Aliases: map[string]aliasStatus{},
		Instance: d.instance(d.cfg), Fencing: d.cfg.DNS.Fencing}
	for view, zones := range d.leases {
		for zone, lp := range zones {
			if out.Leases == nil {
				out.Leases = map[string]map[string]leaseStatus{}
			}
			if out.Leases[view] == nil {
				out.Leases[view] = map[string]leaseStatus{}
			}
			out.Leases[view][zone] = leaseStatus{Writing: lp.Write, Holder: lp.Holder, Why: lp.Why}
		}
	}
	for name, st := range d.aliases {
		s := aliasStatus{Hosts: st.decision.Hosts, Fallback: string(st.decision.Fallback), Usable: st.decision.Usable,
			LastEval: st.lastEval, LastWrite: st.lastWrite}
		for _, a := range st.decision.Addrs {
			s.Addrs = append(s.Addrs, a.String())
		}
		if st.lastErr != nil {
			s.Error = st.lastErr.Error()
		}
		if !st.lastEval.IsZero() {
			s.Servers = map[string]string{}
			for _, srv := range d.cfg.DNSServers() {
				s.Servers[srv] = "ok"
			}
			for srv, err := range st.servers {
				if err != nil {
					s.Servers[srv] = err.Error()
				}
			}
		}
		out.Aliases[name] = s
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}
