package dnsupdate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// Query reads the A and AAAA records of name from Server with unsigned
// queries (A first, then AAAA). NOERROR or NXDOMAIN without answers is an
// empty state; CNAMEs and records of other owners are ignored; a truncated
// reply is repeated over TCP; any other RCODE is an *RcodeError. The
// recursion-desired bit is clear: the answer must come from the server's
// own data. With views, an unsigned query sees the view for unsigned
// clients (usually "internal"); see QuerySigned.
func (c *Client) Query(ctx context.Context, name string) (State, error) {
	st, _, err := c.query(ctx, name, nil, true, true)
	return st, err
}

// QuerySigned is Query with TSIG-signed queries (Key) and verified replies.
// A server that selects views by key answers from the key's view, so this
// reads back what an update with the same key wrote (D3).
func (c *Client) QuerySigned(ctx context.Context, name string) (State, error) {
	st, _, err := c.Read(ctx, name, true, true)
	return st, err
}

// Read is QuerySigned for the families asked for (a family not asked for
// is left empty), with one short cut: when a query finds that name does
// not exist (NXDOMAIN), nothing exists below it either (RFC 8020 §2), so
// no further query is sent (the AAAA after the A) and exists is false. A name that exists
// with no address (NODATA) has exists true.
func (c *Client) Read(ctx context.Context, name string, v4, v6 bool) (st State, exists bool, err error) {
	key, err := c.key()
	if err != nil {
		return State{}, false, fmt.Errorf("query %s: %w", name, err)
	}
	return c.query(ctx, name, key, v4, v6)
}

// query reads name's A (v4) and AAAA (v6) records; exists is false when
// a query was answered NXDOMAIN (the AAAA query is then not sent).
func (c *Client) query(ctx context.Context, name string, key *tsig.Key, v4, v6 bool) (st State, exists bool, err error) {
	qname := canonical(name)
	if _, ok := dns.IsDomainName(qname); !ok || qname == "" {
		return State{}, false, fmt.Errorf("query %q: not a valid domain name", name)
	}
	server, err := ServerAddr(c.Server)
	if err != nil {
		return State{}, false, fmt.Errorf("query %s: %w", qname, err)
	}
	exists = true
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if qtype == dns.TypeA && !v4 || qtype == dns.TypeAAAA && !v6 {
			continue
		}
		r, err := c.ask(ctx, server, qname, qtype, key, true)
		if err != nil {
			return State{}, false, err
		}
		if r.Rcode == dns.RcodeNameError {
			exists = false
			break
		}
		var addrs []netip.Addr
		var ttl uint32
		for _, rr := range r.Answer {
			h := rr.Header()
			if h.Rrtype != qtype || h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != qname {
				continue
			}
			var a netip.Addr
			var ok bool
			switch v := rr.(type) {
			case *dns.A:
				a, ok = netip.AddrFromSlice(v.A.To4())
			case *dns.AAAA:
				a, ok = netip.AddrFromSlice(v.AAAA.To16())
			}
			if !ok {
				continue
			}
			addrs = append(addrs, a)
			if len(addrs) == 1 || h.Ttl < ttl {
				ttl = h.Ttl
			}
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		if qtype == dns.TypeA {
			st.A, st.ATTL = addrs, ttl
		} else {
			st.AAAA, st.AAAATTL = addrs, ttl
		}
	}
	switch {
	case len(st.A) > 0 && len(st.AAAA) > 0:
		st.TTL = min(st.ATTL, st.AAAATTL)
	case len(st.A) > 0:
		st.TTL = st.ATTL
	case len(st.AAAA) > 0:
		st.TTL = st.AAAATTL
	}
	return st, exists, nil
}

// ask sends one query of qtype for qname (canonical), signed with key (nil:
// unsigned), and returns the verified reply; NXDOMAIN counts as an answer
// when nx is set.
func (c *Client) ask(ctx context.Context, server, qname string, qtype uint16, key *tsig.Key, nx bool) (*dns.Msg, error) {
	return c.do(ctx, server, request{
		op: "query", zone: qname, qtype: qtype, key: key,
		build: func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(qname, qtype)
			m.RecursionDesired = false
			m.SetEdns0(ednsSize, false)
			return m
		},
		ok: func(rc int) bool { return rc == dns.RcodeSuccess || nx && rc == dns.RcodeNameError },
	})
}
