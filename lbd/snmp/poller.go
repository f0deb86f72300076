package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// LoadOID is the OID every agent answers with its load (docs/protocol.md §3.1);
// no ".0" instance suffix.
const LoadOID = ".1.3.6.1.4.1.96.255.1"

// Name resolution cache lifetimes (config-free): a name that resolved is
// re-resolved after ResolveTTL, one that failed after ResolveNegativeTTL.
// The cache lives in the Poller, so a reload (new Poller) empties it.
const (
	ResolveTTL         = 60 * time.Second
	ResolveNegativeTTL = 5 * time.Second
)

// Poller GETs LoadOID from agents over SNMP v2c or v3 (USM) with its own
// client engine (snmpclient.go). It owns up to two UDP sockets, opened on
// first use; Close releases them (they are also closed after a minute
// unused).
type Poller struct {
	cfg     Config
	workers int
	client  *snmpClient
	// Resolve maps a member name to its addresses; IP literals never reach
	// it. Defaults to the system resolver. Results are cached (ResolveTTL).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)

	now       func() time.Time
	rmu       sync.Mutex
	rcache    map[string]resolved
	lastSweep time.Time
}

type resolved struct {
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// NewPoller returns a poller for the [snmp] settings. workers bounds
// concurrent name resolutions; PollAll keeps max(workers, MinInFlight)
// addresses in flight.
func NewPoller(cfg Config, workers int) (*Poller, error) {
	if workers < 1 {
		workers = 1
	}
	cc := clientConfig{community: cfg.Community, port: uint16(cfg.Port),
		timeout: cfg.Timeout.Duration, retries: max(cfg.Retries, 0)}
	if cc.port == 0 {
		cc.port = 161
	}
	if cc.timeout <= 0 {
		cc.timeout = 2 * time.Second
	}
	switch cfg.Version {
	case "2c":
	case "3":
		auth, err := snmpwire.LookupAuth(cfg.AuthProtocol)
		if err != nil {
			return nil, err
		}
		priv, err := snmpwire.LookupPriv(cfg.PrivProtocol)
		if err != nil {
			return nil, err
		}
		if cfg.AuthPassword == "" || priv != nil && cfg.PrivPassword == "" {
			return nil, errors.New("snmp: SNMPv3 needs auth_password (and priv_password with a priv_protocol)")
		}
		cc.v3, cc.user, cc.auth, cc.authPassword = true, cfg.User, auth, cfg.AuthPassword
		cc.priv, cc.privPassword = priv, cfg.PrivPassword
	default:
		return nil, fmt.Errorf("snmp: unknown version %q (2c, 3)", cfg.Version)
	}
	return &Poller{cfg: cfg, workers: workers, client: newSNMPClient(cc), Resolve: systemResolve,
		now: time.Now, rcache: map[string]resolved{}}, nil
}

// Close releases the poller's sockets: at once, or when the polls in
// progress end. Later polls fail. Safe to call more than once.
func (p *Poller) Close() error {
	p.client.close()
	return nil
}

var netResolver = net.DefaultResolver

func systemResolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return netResolver.LookupNetIP(ctx, "ip", host)
}

// ResolveAll resolves every member name (IP literals are used as is),
// from the cache when fresh. A name that fails to resolve maps to no
// addresses and an error. The returned slices must not be modified.
func (p *Poller) ResolveAll(ctx context.Context, hosts []string) (map[string][]netip.Addr, map[string]error) {
	addrs := make(map[string][]netip.Addr, len(hosts))
	errs := map[string]error{}
	now := p.now()
	var todo []string
	p.rmu.Lock()
	if now.Sub(p.lastSweep) > ResolveTTL {
		p.lastSweep = now
		for h, r := range p.rcache {
			if now.After(r.expires) {
				delete(p.rcache, h)
			}
		}
	}
	for _, h := range hosts {
		if _, done := addrs[h]; done {
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			addrs[h] = []netip.Addr{a.Unmap()}
			continue
		}
		if r, ok := p.rcache[h]; ok && now.Before(r.expires) {
			addrs[h] = r.addrs
			if r.err != nil {
				errs[h] = r.err
			}
			continue
		}
		addrs[h] = nil // placeholder: dedups names
		todo = append(todo, h)
	}
	p.rmu.Unlock()

	var mu sync.Mutex
	sem := make(chan struct{}, p.workers)
	var wg sync.WaitGroup
	for _, h := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(h string) {
			defer wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout.Duration)
			defer cancel()
			as, err := p.Resolve(rctx, h)
			seen := map[netip.Addr]bool{}
			var out []netip.Addr
			for _, a := range as {
				a = a.Unmap()
				if !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
			out = out[:len(out):len(out)]
			r := resolved{addrs: out, expires: p.now().Add(ResolveTTL)}
			if err != nil {
				r.err = fmt.Errorf("resolve %s: %w", h, err)
				r.expires = p.now().Add(ResolveNegativeTTL)
			}
			mu.Lock()
			addrs[h] = out
			if err != nil {
				errs[h] = r.err
			}
			mu.Unlock()
			// A cancelled cycle says nothing about the name: not cached.
			if ctx.Err() == nil {
				p.rmu.Lock()
				p.rcache[h] = r
				p.rmu.Unlock()
			}
		}(h)
	}
	wg.Wait()
	return addrs, errs
}

// inFlight is how many addresses PollAll polls concurrently.
func (p *Poller) inFlight() int { return max(p.workers, MinInFlight) }

// PollAll GETs the load from every distinct address once, keeping up to
// max(workers, MinInFlight) requests in flight, so that silent addresses
// cost one per-address deadline (timeout × (1+retries)) for the whole
// call rather than a serial delay. Every address gets a Reply; failures
// carry the error.
func (p *Poller) PollAll(ctx context.Context, addrs []netip.Addr) map[netip.Addr]Reply {
	out := make(map[netip.Addr]Reply, len(addrs))
	if len(addrs) == 0 {
		return out
	}
	release, err := p.Hold()
	if err != nil {
		for _, a := range addrs {
			out[a] = Reply{Err: fmt.Errorf("poll %s: %w", a, err)}
		}
		return out
	}
	defer release()
	p.PollInto(ctx, addrs, out)
	return out
}

// hold keeps the poller usable until release is called, even if Close is
// called meanwhile (a reload during a cycle): poll with PollInto.
func (p *Poller) Hold() (release func(), err error) {
	if err := p.client.acquire(); err != nil {
		return nil, err
	}
	return p.client.release, nil
}

// PollInto is PollAll for a caller holding the poller (Hold): every
// distinct address gets its reply in out.
func (p *Poller) PollInto(ctx context.Context, addrs []netip.Addr, out map[netip.Addr]Reply) {
	todo := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if _, dup := out[a]; !dup {
			out[a] = Reply{}
			todo = append(todo, a)
		}
	}
	results := make([]Reply, len(todo))
	p.PollEach(ctx, todo, 0, func(i int, r Reply) { results[i] = r })
	for i, a := range todo {
		out[a] = results[i]
	}
}

// PollEach polls addrs (distinct) for a caller holding the poller (Hold),
// as PollAll does, with at most limit polls in flight (0: the poller's
// max(workers, MinInFlight)), and calls each(i, reply of addrs[i]) as soon
// as each answer or failure is known, from several goroutines at once. It
// returns when every address had its call.
func (p *Poller) PollEach(ctx context.Context, addrs []netip.Addr, limit int, each func(i int, r Reply)) {
	if len(addrs) == 0 {
		return
	}
	if limit <= 0 {
		limit = p.inFlight()
	}
	c := p.client
	c.sweepEngines(c.now())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(limit, len(addrs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := getWorker()
			defer putWorker(w)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(addrs) {
					return
				}
				v, err := c.get(ctx, w, addrs[i])
				if err != nil {
					err = fmt.Errorf("poll %s: %w", addrs[i], err)
				}
				each(i, Reply{Value: v, Err: err})
			}
		}()
	}
	wg.Wait()
}

// Get polls one address.
func (p *Poller) Get(ctx context.Context, addr netip.Addr) (Value, error) {
	c := p.client
	if err := c.acquire(); err != nil {
		return Value{}, fmt.Errorf("poll %s: %w", addr, err)
	}
	defer c.release()
	w := getWorker()
	defer putWorker(w)
	v, err := c.get(ctx, w, addr)
	if err != nil {
		return Value{}, fmt.Errorf("poll %s: %w", addr, err)
	}
	return v, nil
}
