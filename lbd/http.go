package lbd

import (
	"encoding/json"
	"fmt"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/lbd-project/lbd/heartbeat"
	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/lbd/admin"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
	"github.com/lbd-project/lbd/lbd/registry"
	"github.com/lbd-project/lbd/lbd/shard"
	"github.com/sirupsen/logrus"
)

// Handler serves the heartbeat (master: the legacy line, and the
// authenticated beat with a heartbeat secret), /healthz and /status.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(heartbeat.Path, d.pub)
	mux.Handle(heartbeat.PathV2, d.pub.Signed())
	mux.HandleFunc("/healthz", d.serveHealth)
	mux.HandleFunc("/status", d.serveStatus)
	admin.Routes(mux, adminBackend{d})
	mux.Handle("POST "+register.Path, registry.Handler(d.reg, d.registerPolicy, d.onRegistered))
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

// adminBackend is the daemon as the admin API sees it.
type adminBackend struct{ d *Daemon }

// Config is the configuration with the registered members, so that they
// can be drained too.
func (b adminBackend) Config() *config.Compiled {
	b.d.mu.Lock()
	cfg := b.d.cfg
	b.d.mu.Unlock()
	cfg, _ = b.d.withRegistered(cfg)
	return cfg
}

func (b adminBackend) Writing() bool {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	return b.d.writing || b.d.cfg.Sharded() // a shard writes its own zones (OwnerOf)
}

// OwnerOf is the instance that owns alias's zone (admin.Router); with no
// peers this instance owns every zone.
func (b adminBackend) OwnerOf(alias string) (owner, url string, mine bool) {
	b.d.mu.Lock()
	cfg := b.d.cfg
	b.d.mu.Unlock()
	self := b.d.instance(cfg)
	if !cfg.Sharded() {
		return self, "", true
	}
	for i := range cfg.Params {
		if cfg.Params[i].Name == alias {
			owner = shard.Owner(cfg.Params[i].Zone, b.d.shardLive(cfg, time.Now()))
			for _, p := range cfg.LBD.Peers {
				if p.Instance == owner {
					url = baseURL(p.URL)
				}
			}
			return owner, url, owner == self
		}
	}
	return self, "", true // an unknown alias: refused by the API already
}

// baseURL is the scheme and host of a peer's heartbeat URL: its HTTP
// listener ("" when it does not parse).
func baseURL(heartbeat string) string {
	u, err := neturl.Parse(heartbeat)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (b adminBackend) Submit(alias string, e override.Edit, req admin.DrainRequest, author string) <-chan error {
	done := b.d.edits.Add(alias, e)
	b.d.Poke([]string{alias})
	b.d.log.WithFields(logrus.Fields{"alias": req.Alias, "member": req.Member, "drain": e.Set != nil, "author": author,
		"reason": req.Reason, "for": req.For}).Info("admin: override requested")
	return done
}

func (b adminBackend) Overrides(now time.Time) []override.Override {
	b.d.mu.Lock()
	defer b.d.mu.Unlock()
	var out []override.Override
	for _, p := range b.d.cfg.Params {
		if st := b.d.aliases[p.Name]; st != nil {
			out = append(out, st.overrides.Active(now)...)
		}
	}
	return out
}
