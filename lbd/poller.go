package lbd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// LoadOID is the OID every agent answers with its load (COMPAT.md §3.1);
// no ".0" instance suffix.
const LoadOID = ".1.3.6.1.4.1.96.255.1"

// Poller GETs LoadOID from agents over SNMP v2c or v3 (USM).
type Poller struct {
	cfg     SNMPSection
	workers int
	// Resolve maps a member name to its addresses; IP literals never reach
	// it. Defaults to the system resolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewPoller returns a poller for the [snmp] settings with at most workers
// concurrent requests.
func NewPoller(cfg SNMPSection, workers int) (*Poller, error) {
	if workers < 1 {
		workers = 1
	}
	if cfg.Version == "3" {
		if _, err := authProtocol(cfg.AuthProtocol); err != nil {
			return nil, err
		}
		if _, err := privProtocol(cfg.PrivProtocol); err != nil {
			return nil, err
		}
	}
	return &Poller{cfg: cfg, workers: workers, Resolve: systemResolve}, nil
}

var netResolver = net.DefaultResolver

func systemResolve(ctx context.Context, host string) ([]netip.Addr, error) {
	return netResolver.LookupNetIP(ctx, "ip", host)
}

// ResolveAll resolves every member name once (IP literals are used as is).
// A name that fails to resolve maps to no addresses and an error.
func (p *Poller) ResolveAll(ctx context.Context, hosts []string) (map[string][]netip.Addr, map[string]error) {
	addrs := make(map[string][]netip.Addr, len(hosts))
	errs := map[string]error{}
	var mu sync.Mutex
	sem := make(chan struct{}, p.workers)
	var wg sync.WaitGroup
	for _, h := range hosts {
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			addrs[h] = []netip.Addr{a.Unmap()}
			continue
		}
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
			mu.Lock()
			addrs[h] = out
			if err != nil {
				errs[h] = fmt.Errorf("resolve %s: %w", h, err)
			}
			mu.Unlock()
		}(h)
	}
	wg.Wait()
	return addrs, errs
}

// PollAll GETs the load from every address once, with bounded concurrency.
// Every address gets a Reply; failures carry the error.
func (p *Poller) PollAll(ctx context.Context, addrs []netip.Addr) map[netip.Addr]Reply {
	out := make(map[netip.Addr]Reply, len(addrs))
	var todo []netip.Addr
	for _, a := range addrs {
		if _, dup := out[a]; !dup {
			out[a] = Reply{Err: errors.New("not polled")}
			todo = append(todo, a)
		}
	}
	var mu sync.Mutex
	sem := make(chan struct{}, p.workers)
	var wg sync.WaitGroup
	for _, a := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func(a netip.Addr) {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := p.Get(ctx, a)
			mu.Lock()
			out[a] = Reply{Value: v, Err: err}
			mu.Unlock()
		}(a)
	}
	wg.Wait()
	return out
}

// Get polls one address.
func (p *Poller) Get(ctx context.Context, addr netip.Addr) (Value, error) {
	g := p.client(ctx, addr)
	if err := g.Connect(); err != nil {
		return Value{}, fmt.Errorf("poll %s: %w", addr, err)
	}
	defer g.Conn.Close()
	pkt, err := g.Get([]string{LoadOID})
	if err != nil {
		return Value{}, fmt.Errorf("poll %s: %w", addr, err)
	}
	v, err := decodeResponse(pkt)
	if err != nil {
		return Value{}, fmt.Errorf("poll %s: %w", addr, err)
	}
	return v, nil
}

func (p *Poller) client(ctx context.Context, addr netip.Addr) *gosnmp.GoSNMP {
	g := &gosnmp.GoSNMP{
		Target:    addr.String(),
		Port:      uint16(p.cfg.Port),
		Transport: "udp",
		Context:   ctx,
		Timeout:   p.cfg.Timeout.Duration,
		Retries:   p.cfg.Retries,
		MaxOids:   1,
	}
	if addr.Is6() {
		g.Transport = "udp6"
	}
	if p.cfg.Version == "2c" {
		g.Version = gosnmp.Version2c
		g.Community = p.cfg.Community
		return g
	}
	auth, _ := authProtocol(p.cfg.AuthProtocol)
	priv, _ := privProtocol(p.cfg.PrivProtocol)
	g.Version = gosnmp.Version3
	g.SecurityModel = gosnmp.UserSecurityModel
	g.MsgFlags = gosnmp.AuthNoPriv
	sp := &gosnmp.UsmSecurityParameters{
		UserName:                 p.cfg.User,
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: p.cfg.AuthPassword,
		PrivacyProtocol:          gosnmp.NoPriv,
	}
	if priv != gosnmp.NoPriv {
		g.MsgFlags = gosnmp.AuthPriv
		sp.PrivacyProtocol = priv
		sp.PrivacyPassphrase = p.cfg.PrivPassword
	}
	g.SecurityParameters = sp
	return g
}

// decodeResponse checks a GetResponse and extracts the load value
// (COMPAT.md §3.2/§3.5): the varbind must be LoadOID; INTEGER and OCTET
// STRING are values, Gauge32/Counter32 integers; noSuchObject,
// noSuchInstance and anything else are failures.
func decodeResponse(pkt *gosnmp.SnmpPacket) (Value, error) {
	if pkt == nil {
		return Value{}, errors.New("empty response")
	}
	if pkt.PDUType != gosnmp.GetResponse {
		return Value{}, fmt.Errorf("unexpected PDU %v", pkt.PDUType)
	}
	if pkt.Error != gosnmp.NoError {
		return Value{}, fmt.Errorf("agent error-status %v (index %d)", pkt.Error, pkt.ErrorIndex)
	}
	if len(pkt.Variables) != 1 {
		return Value{}, fmt.Errorf("%d varbinds in response, want 1", len(pkt.Variables))
	}
	vb := pkt.Variables[0]
	if strings.TrimPrefix(vb.Name, ".") != strings.TrimPrefix(LoadOID, ".") {
		return Value{}, fmt.Errorf("response for OID %s, asked %s", vb.Name, LoadOID)
	}
	return decodeVarbind(vb)
}

func decodeVarbind(vb gosnmp.SnmpPDU) (Value, error) {
	switch vb.Type {
	case gosnmp.Integer:
		n, ok := vb.Value.(int)
		if !ok {
			return Value{}, fmt.Errorf("INTEGER with value %T", vb.Value)
		}
		return Value{Int: n}, nil
	case gosnmp.OctetString:
		b, ok := vb.Value.([]byte)
		if !ok {
			return Value{}, fmt.Errorf("OCTET STRING with value %T", vb.Value)
		}
		return Value{IsString: true, Str: string(b)}, nil
	case gosnmp.Gauge32, gosnmp.Counter32:
		n := gosnmp.ToBigInt(vb.Value)
		if !n.IsInt64() || n.Int64() > 1<<31 {
			return Value{}, fmt.Errorf("%v value out of range", vb.Type)
		}
		return Value{Int: int(n.Int64())}, nil
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return Value{}, fmt.Errorf("agent answered %v (lbclient failed?)", vb.Type)
	}
	return Value{}, fmt.Errorf("unexpected value type %v", vb.Type)
}

func authProtocol(s string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToLower(s) {
	case "md5":
		return gosnmp.MD5, nil
	case "sha", "sha1":
		return gosnmp.SHA, nil
	case "sha224":
		return gosnmp.SHA224, nil
	case "sha256":
		return gosnmp.SHA256, nil
	case "sha384":
		return gosnmp.SHA384, nil
	case "sha512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("unknown auth protocol %q (md5, sha, sha224, sha256, sha384, sha512)", s)
}

func privProtocol(s string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return gosnmp.NoPriv, nil
	case "aes", "aes128":
		return gosnmp.AES, nil
	case "aes192":
		return gosnmp.AES192, nil
	case "aes256":
		return gosnmp.AES256, nil
	}
	return 0, fmt.Errorf("unknown priv protocol %q (\"\", aes, aes192, aes256)", s)
}
