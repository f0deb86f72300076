package lbclient

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lbd-project/lbd/internal/register"
	"github.com/lbd-project/lbd/lbclient/announce"
)

// [agent] register*: member self-registration (package announce,
// docs/operations.md "Self-registration").

// DefaultRegisterInterval is register_interval's default.
const DefaultRegisterInterval = 30 * time.Second

func checkRegister(p *problems, a *AgentConfig) {
	checkHostPorts(p, "agent.register", a.Register, "is not a host:port address of an lbd http_listen, e.g. \"lbd1.example.org:8080\"")
	if len(a.Register) > 0 && a.RegisterSecretFile == "" {
		p.bad("agent.register_secret_file", "required with agent.register: registrations are signed per alias")
	}
	if a.RegisterInterval.Duration < 0 || a.RegisterInterval.Duration > 0 && a.RegisterInterval.Duration < time.Second {
		p.bad("agent.register_interval", "%s: want at least 1s (default %s)", a.RegisterInterval, DefaultRegisterInterval)
	}
	iv := cmp.Or(a.RegisterInterval.Duration, DefaultRegisterInterval)
	if ttl := a.RegisterTTL.Duration; ttl != 0 && (ttl <= iv || ttl > 24*time.Hour) {
		p.bad("agent.register_ttl", "%s: want more than register_interval (%s) and at most 24h (default 3 × register_interval)", a.RegisterTTL, iv)
	}
	for i, s := range a.RegisterAddresses {
		if ad, err := netip.ParseAddr(s); err != nil || ad.IsUnspecified() || ad.Zone() != "" {
			p.bad(fmt.Sprintf("agent.register_addresses[%d]", i), "%q is not a unicast IP address", s)
		}
	}
}

// registerSettings are the compiled registration settings.
type registerSettings struct {
	announce.Settings
	interval time.Duration
	skipped  []string // aliases without a secret: not announced
}

// compileRegister reads the secret file; an error is reported under its
// key.
func compileRegister(pr *problems, file string, a AgentConfig, aliases []string) registerSettings {
	s := registerSettings{interval: cmp.Or(a.RegisterInterval.Duration, DefaultRegisterInterval)}
	if len(a.Register) == 0 {
		return s
	}
	s.Targets = slices.Clone(a.Register)
	s.TTL = cmp.Or(a.RegisterTTL.Duration, 3*s.interval)
	s.Host = a.RegisterHost
	if s.Host == "" {
		s.Host, _ = os.Hostname()
	}
	for _, x := range a.RegisterAddresses {
		if ad, err := netip.ParseAddr(x); err == nil {
			s.Addrs = append(s.Addrs, ad)
		}
	}
	path := a.RegisterSecretFile
	if !filepath.IsAbs(path) && file != "" {
		path = filepath.Join(filepath.Dir(file), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		pr.bad("agent.register_secret_file", "%v", err)
		return s
	}
	secrets, err := register.ParseSecrets(string(b))
	if err != nil {
		pr.bad("agent.register_secret_file", "%s: %v", path, err)
		return s
	}
	s.Secrets = secrets
	for _, al := range aliases {
		if _, ok := secrets[canonical(al)]; ok {
			s.Aliases = append(s.Aliases, canonical(al))
		} else {
			s.skipped = append(s.skipped, al)
		}
	}
	if len(s.Aliases) == 0 {
		pr.bad("agent.register_secret_file", "%s has a secret for none of the configured aliases", path)
	}
	return s
}

func registerChanged(a, b *Compiled) bool {
	x, y := a.register, b.register
	return !slices.Equal(x.Targets, y.Targets) || x.Host != y.Host || !slices.Equal(x.Addrs, y.Addrs) ||
		!slices.Equal(x.Aliases, y.Aliases) || x.TTL != y.TTL || x.interval != y.interval || !maps.EqualFunc(x.Secrets, y.Secrets, bytes.Equal)
}

// registrar renews this member's registrations with every lbd of the
// settings, each on its own goroutine, until closed.
type registrar struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newRegistrar(ctx context.Context, cfg *Compiled, log logrus.FieldLogger) *registrar {
	s := cfg.register
	if len(s.Targets) == 0 || len(s.Aliases) == 0 {
		return nil
	}
	if len(s.skipped) > 0 {
		log.WithField("aliases", s.skipped).Warn("register: no secret for these aliases in register_secret_file: not registered")
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &registrar{cancel: cancel}
	var from netip.Addr // the first address registered, when set, is the source
	if len(s.Addrs) > 0 {
		from = s.Addrs[0]
	}
	// The client's timeout bounds each request (min(interval, 10 s)).
	client := announce.Client(from, min(s.interval, 10*time.Second))
	for _, t := range s.Targets {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			runRegister(ctx, client, t, s, log.WithFields(logrus.Fields{"lbd": t, "host": s.Host}))
		}()
	}
	return r
}

// runRegister registers at once, then every interval; it logs a failure
// when it starts and the recovery, not every failed attempt.
func runRegister(ctx context.Context, c *http.Client, target string, s registerSettings, log logrus.FieldLogger) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	var lastErr string
	for {
		rep, err := announce.Send(ctx, c, target, announce.Request(s.Settings, time.Now()))
		if err == nil {
			err = announce.Refusals(rep)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && err.Error() != lastErr:
			log.WithError(err).Warn("register: not registered (retried every register_interval)")
			lastErr = err.Error()
		case err == nil && lastErr != "":
			log.Info("register: registered again")
			lastErr = ""
		case err == nil && lastErr == "" && rep.Results != nil:
			log.WithField("aliases", s.Aliases).Debug("register: registered")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *registrar) close() {
	r.cancel()
	r.wg.Wait()
}
