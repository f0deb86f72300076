package lbd

import (
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/registry"
)

// Members that registered themselves (package lbd/registry): the policy
// of the configuration in force, the cycle's effective configuration with
// the registered members added, and where to poll them.

// registerPolicy is what the configuration in force accepts.
func (d *Daemon) registerPolicy() registry.Policy {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	return policyOf(cfg)
}

func policyOf(cfg *config.Compiled) registry.Policy {
	takes := map[string]bool{}
	for _, p := range cfg.Params {
		if p.Register {
			takes[p.Name] = true
		}
	}
	return registry.Policy{Accepts: func(a string) bool { return takes[a] }, Secrets: cfg.RegisterSecrets()}
}

// onRegistered makes the aliases whose registered members changed due.
func (d *Daemon) onRegistered(aliases []string) { d.Poke(aliases) }

// expireRegistrations forgets the registrations past their TTL at now,
// logs every change since the last cycle, makes the aliases concerned due
// and saves the registrations when they changed. It returns the events.
func (d *Daemon) expireRegistrations(now time.Time, cfg *config.Compiled) []registry.Event {
	d.reg.Expire(now, policyOf(cfg))
	fresh := d.reg.Events()
	d.mu.Lock()
	events := append(d.regEvents, fresh...)
	d.regEvents = nil
	d.mu.Unlock()
	var aliases []string
	for _, e := range fresh {
		d.log.WithFields(logrus.Fields{"alias": e.Entry.Alias, "member": e.Entry.Host, "addresses": e.Entry.Addrs,
			"expires": e.Entry.Expires.UTC().Format(time.RFC3339)}).Info("registration " + e.Kind)
		aliases = append(aliases, e.Entry.Alias)
	}
	if len(aliases) > 0 {
		d.mu.Lock()
		d.markDueLocked(aliases) // due in this very cycle: no wake-up
		d.mu.Unlock()
	}
	if err := d.reg.SaveIfChanged(cfg.LBD.StateDir, now); err != nil {
		d.log.Error(err)
	}
	return events
}

// withRegistered is cfg with each members_from = "register" alias's
// registered hosts added to its members, and the registered addresses of
// every registered host (a host that registered for several aliases: all
// the addresses it gave).
func (d *Daemon) withRegistered(cfg *config.Compiled) (*config.Compiled, map[string][]netip.Addr) {
	extra := map[int][]string{}
	addrs := map[string][]netip.Addr{}
	byAlias := d.reg.ByAlias()
	if len(byAlias) == 0 {
		return cfg, addrs
	}
	for i, p := range cfg.Params {
		if !p.Register {
			continue
		}
		for _, e := range byAlias[p.Name] {
			extra[i] = append(extra[i], e.Host)
			for _, a := range e.Addrs {
				if !slices.Contains(addrs[e.Host], a) {
					addrs[e.Host] = append(addrs[e.Host], a)
				}
			}
		}
	}
	return cfg.WithMembers(extra), addrs
}
