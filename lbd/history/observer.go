package history

import (
	"time"

	"github.com/lbd-project/lbd/lbd"
	"github.com/lbd-project/lbd/lbd/config"
)

// ObserveCycle records, for every alias evaluated in the cycle, the hosts
// its decision publishes (lbd.Observer). An alias whose DNS servers could
// not be read (not Decided) or whose fallback keeps DNS as it is records
// nothing: what is published did not change. Aliases the configuration no
// longer has are forgotten when a new configuration is first seen.
func (h *History) ObserveCycle(now time.Time, cfg *config.Compiled, rep lbd.CycleReport) {
	for _, a := range rep.Aliases {
		if !a.Decided || a.Decision.Keep {
			continue
		}
		h.Record(now, a.Alias, a.Decision.Hosts)
	}
	h.mu.Lock()
	same := cfg == nil || cfg == h.cfg
	h.cfg = cfg
	h.mu.Unlock()
	if same {
		return
	}
	keep := make(map[string]bool, len(cfg.Params))
	for i := range cfg.Params {
		keep[cfg.Params[i].Name] = true
	}
	h.Forget(keep)
}

var _ lbd.Observer = (*History)(nil)
