package registry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/lbd/config"
)

// Handler serves POST register.Path: each registration of the request is
// offered to r under the policy in force (policy()), and changed is told
// the aliases whose registered members changed (added, or new addresses),
// so that they are evaluated at once. The source address is the TCP peer's
// (a proxy's headers are not believed). The reply is 200 when every
// registration was accepted, 403 when one was refused, 400 for a body that
// is not a request; its Results say which.
func Handler(r *Registry, policy func() Policy, changed func(aliases []string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ap, err := netip.ParseAddrPort(req.RemoteAddr)
		source := ap.Addr()
		if err != nil {
			http.Error(w, "no source address", http.StatusBadRequest)
			return
		}
		var in register.Request
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, register.MaxBody)).Decode(&in); err != nil {
			r.refuseBody()
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(in.Registrations) > MaxPerRequest {
			r.refuseBody()
			http.Error(w, fmt.Sprintf("%d registrations in one request: at most %d", len(in.Registrations), MaxPerRequest), http.StatusBadRequest)
			return
		}
		pol := policy()
		now := time.Now()
		out := register.Reply{Results: make([]register.Result, len(in.Registrations))}
		code := http.StatusOK
		var aliases []string
		for i, reg := range in.Registrations {
			out.Results[i] = register.Result{Alias: reg.Alias, OK: true}
			ch, err := r.Offer(now, source, reg, pol)
			if err != nil {
				out.Results[i] = register.Result{Alias: reg.Alias, Error: err.Error()}
				code = http.StatusForbidden
			} else if ch && !slices.Contains(aliases, config.NormName(reg.Alias)) {
				aliases = append(aliases, config.NormName(reg.Alias))
			}
		}
		if len(aliases) > 0 && changed != nil {
			changed(aliases)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(out)
	})
}
