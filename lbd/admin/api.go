package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
)

const (
	// MaxDrain bounds a drain's duration.
	MaxDrain = 90 * 24 * time.Hour
	// Wait bounds how long a request waits for its edit's cycle.
	Wait = 20 * time.Second
	// maxBody bounds a request body.
	maxBody = 64 << 10
)

// DrainRequest is the body of POST /admin/drain and /admin/undrain.
type DrainRequest struct {
	Alias  string `json:"alias"`
	Member string `json:"member"`
	// For is a Go duration ("2h"); drain only.
	For    string `json:"for,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Author is who asks; the token's name wins when it has one.
	Author string `json:"author,omitempty"`
}

// Reply is the answer of the admin API.
type Reply struct {
	OK       bool               `json:"ok"`
	Message  string             `json:"message"`
	Override *override.Override `json:"override,omitempty"`
	// Owner is, for a request refused because another instance writes
	// the alias's zone (sharding), that instance's HTTP address
	// ("http://host:port"), where the request can be sent again.
	Owner string `json:"owner,omitempty"`
}

// Backend is what the API needs of the daemon.
type Backend interface {
	// Config is the configuration in force.
	Config() *config.Compiled
	// Writing reports whether this instance writes DNS now.
	Writing() bool
	// Submit queues a validated edit for alias (normalised) and makes the
	// alias due; the channel is told the outcome of the cycle that writes
	// it. req and author are for the daemon's log.
	Submit(alias string, e override.Edit, req DrainRequest, author string) <-chan error
	// Overrides lists the overrides in force at now, as last read or written.
	Overrides(now time.Time) []override.Override
}

// Router is what a Backend sharing the zones with other instances adds
// (docs/design.md §9.7): who writes the alias's zone. A request for an
// alias another instance owns is refused (409) with that instance's name:
// this one would never evaluate it.
type Router interface {
	// OwnerOf is the instance that owns alias's zone, its HTTP address
	// ("http://host:port", "" when unknown), and whether that is this one.
	OwnerOf(alias string) (owner, url string, mine bool)
}

// Routes adds the API's routes to mux.
func Routes(mux *http.ServeMux, b Backend) {
	mux.HandleFunc("POST /admin/drain", serveEdit(b, true))
	mux.HandleFunc("POST /admin/undrain", serveEdit(b, false))
	mux.HandleFunc("GET /overrides", func(w http.ResponseWriter, r *http.Request) {
		out := b.Overrides(time.Now())
		if out == nil {
			out = []override.Override{}
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	})
}

func reply(w http.ResponseWriter, code int, r Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(r)
}

// authorize checks the request's bearer token; it returns the token's name.
func authorize(cfg *config.Compiled, r *http.Request) (name string, code int, err error) {
	tokens := cfg.AdminTokens()
	if tokens == nil {
		return "", http.StatusForbidden, errors.New("the admin API is off: set [lbd] admin_token_file")
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", http.StatusUnauthorized, errors.New("missing Authorization: Bearer <token>")
	}
	for t, n := range tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			return n, 0, nil
		}
	}
	return "", http.StatusUnauthorized, errors.New("token not accepted")
}

func serveEdit(b Backend, drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg := b.Config()
		name, code, err := authorize(cfg, r)
		if err != nil {
			reply(w, code, Reply{Message: err.Error()})
			return
		}
		var req DrainRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, Reply{Message: "bad request body: " + err.Error()})
			return
		}
		author := req.Author
		if name != "" {
			author = name
		}
		edit, o, err := editFor(cfg, req, drain, author, time.Now())
		if err != nil {
			reply(w, http.StatusBadRequest, Reply{Message: err.Error()})
			return
		}
		if !b.Writing() {
			reply(w, http.StatusConflict, Reply{Message: "this instance does not write DNS now (a passive slave): send it to the master"})
			return
		}
		if r, ok := b.(Router); ok {
			if owner, url, mine := r.OwnerOf(config.NormName(req.Alias)); !mine {
				reply(w, http.StatusConflict, Reply{Message: fmt.Sprintf("the zone of %s is written by the instance %s (sharding): send it there", req.Alias, owner), Owner: url})
				return
			}
		}
		done := b.Submit(config.NormName(req.Alias), edit, req, author)
		ctx, cancel := context.WithTimeout(r.Context(), Wait)
		defer cancel()
		select {
		case err := <-done:
			if err != nil {
				reply(w, http.StatusAccepted, Reply{Message: "queued, but the cycle that wrote it failed (retried): " + err.Error(), Override: o})
				return
			}
			reply(w, http.StatusOK, Reply{OK: true, Message: "written", Override: o})
		case <-ctx.Done():
			reply(w, http.StatusAccepted, Reply{Message: "queued; not written yet", Override: o})
		}
	}
}

// editFor validates a request against the configuration.
func editFor(cfg *config.Compiled, req DrainRequest, drain bool, author string, now time.Time) (override.Edit, *override.Override, error) {
	alias := config.NormName(req.Alias)
	var p *config.Params
	for i := range cfg.Params {
		if cfg.Params[i].Name == alias {
			p = &cfg.Params[i]
		}
	}
	if p == nil {
		return override.Edit{}, nil, fmt.Errorf("alias %q is not configured", req.Alias)
	}
	if !slices.ContainsFunc(p.Members, func(m string) bool { return strings.EqualFold(m, req.Member) }) {
		return override.Edit{}, nil, fmt.Errorf("%q is not a member of %s", req.Member, alias)
	}
	if !drain {
		return override.Edit{Clear: req.Member}, nil, nil
	}
	dur, err := time.ParseDuration(req.For)
	if err != nil || dur <= 0 || dur > MaxDrain {
		return override.Edit{}, nil, fmt.Errorf("for: want a duration from 1s to %s, not %q", MaxDrain, req.For)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return override.Edit{}, nil, errors.New("reason: required (it is shown in status and the audit log)")
	}
	if author == "" {
		author = "unknown"
	}
	o := override.Override{Alias: alias, Member: req.Member, Action: override.Drain, Reason: req.Reason, Author: author,
		Since: now.Truncate(time.Second), Until: now.Add(dur).Truncate(time.Second)}
	return override.Edit{Set: &o}, &o, nil
}
