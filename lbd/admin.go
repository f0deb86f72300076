package lbd

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

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/override"
)

// The admin API (docs/operations.md): drain and undrain a member from the
// load balancer. Writes need a token of [lbd] admin_token_file; the list of
// overrides is open, like /status. An edit is queued for the alias, the
// alias is made due, and the request waits (bounded) for the cycle that
// writes it.

const (
	// MaxDrain bounds a drain's duration.
	MaxDrain = 90 * 24 * time.Hour
	// adminWait bounds how long a request waits for its edit's cycle.
	adminWait = 20 * time.Second
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

// AdminReply is the answer of the admin API.
type AdminReply struct {
	OK       bool               `json:"ok"`
	Message  string             `json:"message"`
	Override *override.Override `json:"override,omitempty"`
}

// pendingEdit is an operator's edit waiting for its alias's next cycle.
type pendingEdit struct {
	edit override.Edit
	done chan error // told the outcome of the cycle that wrote it
}

func (d *Daemon) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/drain", d.serveEdit(true))
	mux.HandleFunc("POST /admin/undrain", d.serveEdit(false))
	mux.HandleFunc("GET /overrides", d.serveOverrides)
}

func adminReply(w http.ResponseWriter, code int, r AdminReply) {
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

func (d *Daemon) serveEdit(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		cfg, writing := d.cfg, d.writing
		d.mu.Unlock()
		name, code, err := authorize(cfg, r)
		if err != nil {
			adminReply(w, code, AdminReply{Message: err.Error()})
			return
		}
		var req DrainRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
			adminReply(w, http.StatusBadRequest, AdminReply{Message: "bad request body: " + err.Error()})
			return
		}
		author := req.Author
		if name != "" {
			author = name
		}
		edit, o, err := editFor(cfg, req, drain, author, time.Now())
		if err != nil {
			adminReply(w, http.StatusBadRequest, AdminReply{Message: err.Error()})
			return
		}
		if !writing {
			adminReply(w, http.StatusConflict, AdminReply{Message: "this instance does not write DNS now (a passive slave): send it to the master"})
			return
		}
		done := d.queueEdit(config.NormName(req.Alias), edit)
		d.log.WithFields(logrus.Fields{"alias": req.Alias, "member": req.Member, "drain": drain, "author": author,
			"reason": req.Reason, "for": req.For}).Info("admin: override requested")
		ctx, cancel := context.WithTimeout(r.Context(), adminWait)
		defer cancel()
		select {
		case err := <-done:
			if err != nil {
				adminReply(w, http.StatusAccepted, AdminReply{Message: "queued, but the cycle that wrote it failed (retried): " + err.Error(), Override: o})
				return
			}
			adminReply(w, http.StatusOK, AdminReply{OK: true, Message: "written", Override: o})
		case <-ctx.Done():
			adminReply(w, http.StatusAccepted, AdminReply{Message: "queued; not written yet", Override: o})
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

// queueEdit queues an edit for alias and makes it due.
func (d *Daemon) queueEdit(alias string, e override.Edit) <-chan error {
	done := make(chan error, 1)
	d.mu.Lock()
	if d.edits == nil {
		d.edits = map[string][]pendingEdit{}
	}
	d.edits[alias] = append(d.edits[alias], pendingEdit{edit: e, done: done})
	d.mu.Unlock()
	d.Poke([]string{alias})
	return done
}

// takeEdits returns the pending edits of the due aliases (the Edits input
// of Decide) and the entries taken, to settle after the cycle.
func (d *Daemon) takeEdits(cfg *config.Compiled, due []int) (map[string][]override.Edit, map[string][]pendingEdit) {
	d.mu.Lock()
	defer d.mu.Unlock()
	edits, taken := map[string][]override.Edit{}, map[string][]pendingEdit{}
	for _, i := range due {
		name := cfg.Params[i].Name
		for _, pe := range d.edits[name] {
			edits[name] = append(edits[name], pe.edit)
		}
		if len(d.edits[name]) > 0 {
			taken[name] = d.edits[name]
			delete(d.edits, name)
		}
	}
	return edits, taken
}

// settleEdits tells each taken edit's requester how its cycle went; an
// edit whose alias failed is queued again for the next cycle.
func (d *Daemon) settleEdits(taken map[string][]pendingEdit, rep CycleReport) {
	results := map[string]AliasResult{}
	for _, r := range rep.Aliases {
		results[r.Alias] = r
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for alias, pes := range taken {
		err := results[alias].Err
		for _, pe := range pes {
			select {
			case pe.done <- err:
			default:
			}
			if err != nil {
				if d.edits == nil {
					d.edits = map[string][]pendingEdit{}
				}
				d.edits[alias] = append(d.edits[alias], pendingEdit{edit: pe.edit, done: make(chan error, 1)})
			}
		}
	}
}

// serveOverrides lists the overrides in force as last read or written.
func (d *Daemon) serveOverrides(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	var out []override.Override
	for _, p := range d.cfg.Params {
		if st := d.aliases[p.Name]; st != nil {
			out = append(out, st.overrides.Active(time.Now())...)
		}
	}
	d.mu.Unlock()
	if out == nil {
		out = []override.Override{}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}
