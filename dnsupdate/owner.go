package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Ownership and fencing records (docs/design.md §9). Both are TXT records
// (RFC 1035 §3.3.14) in the zone of the name they are about, so that any
// RFC 2136 server can hold them next to the alias's A/AAAA records:
//
//   - _lbd.<name> holds the ownership record of a managed name: which lbd
//     instance group wrote it. lbd never deletes or overwrites a name whose
//     ownership record is not its own (unless told to adopt it).
//   - _lbd-lease.<zone> holds the zone's lease: which instance may write
//     the zone now. Every UPDATE carries it as a prerequisite (RFC 2136
//     §2.4.2 "RRset exists, value dependent"; §2.4.3 "RRset does not exist"
//     when there is none yet), so the server itself rejects a writer that
//     lost the zone.
const (
	OwnerLabel = "_lbd"
	LeaseLabel = "_lbd-lease"
)

// OwnerName is where name's ownership record lives.
func OwnerName(name string) string { return OwnerLabel + "." + canonical(name) }

// LeaseName is where zone's lease lives.
func LeaseName(zone string) string { return LeaseLabel + "." + canonical(zone) }

// Lease is the fencing of one zone in one UPDATE message: the TXT RRset at
// LeaseName(zone) must be exactly Expect ("" = must not exist), and when
// Set differs from Expect the same message replaces it with Set, so that
// taking the zone over is a compare-and-swap the server performs
// atomically with the first write (RFC 2136 §3.2: prerequisites are checked
// before any update of the message is applied).
type Lease struct {
	Expect, Set string
}

// Swaps reports whether the message changes the lease.
func (l Lease) Swaps() bool { return l.Set != l.Expect }

// ErrPrerequisite marks an UPDATE refused because a prerequisite did not
// hold (NXRRSET, YXRRSET, NXDOMAIN or YXDOMAIN, RFC 2136 §3.2.5): the lease
// or an ownership record is not what the writer expected.
var ErrPrerequisite = errors.New("prerequisite failed")

// ErrLeaseLost is the error of a zone whose lease is no longer the one the
// writer expected: another instance holds it, and nothing was written.
var ErrLeaseLost = errors.New("lease lost: another instance holds the zone")

// txtRR is a TXT record of one character-string (RFC 1035 §3.3.14); text
// longer than 255 bytes is split into several strings.
func txtRR(name string, class uint16, ttl uint32, text string) *dns.TXT {
	var parts []string
	for len(text) > 255 {
		parts, text = append(parts, text[:255]), text[255:]
	}
	parts = append(parts, text)
	return &dns.TXT{Hdr: dns.RR_Header{Name: canonical(name), Rrtype: dns.TypeTXT, Class: class, Ttl: ttl}, Txt: parts}
}

// rrsetAbsent is the prerequisite "no TXT RRset at name" (RFC 2136 §2.4.3).
func rrsetAbsent(name string) dns.RR { return typeAbsent(name, dns.TypeTXT) }

// typeAbsent is the prerequisite "no RRset of type typ at name" (RFC 2136
// §2.4.3: class NONE, type typ, no RDATA).
func typeAbsent(name string, typ uint16) dns.RR {
	return &dns.ANY{Hdr: dns.RR_Header{Name: canonical(name), Rrtype: typ, Class: dns.ClassNONE}}
}

// txtEquals is the prerequisite "the TXT RRset at name is exactly text"
// (RFC 2136 §2.4.2: class of the zone, TTL 0).
func txtEquals(name, text string) dns.RR { return txtRR(name, dns.ClassINET, 0, text) }

// deleteTXT deletes the TXT RRset at name (RFC 2136 §2.5.2).
func deleteTXT(name string) dns.RR {
	return &dns.ANY{Hdr: dns.RR_Header{Name: canonical(name), Rrtype: dns.TypeTXT, Class: dns.ClassANY}}
}

// leasePrereq is the prerequisite of a message under l.
func (l Lease) prereq(zone string) dns.RR {
	if l.Expect == "" {
		return rrsetAbsent(LeaseName(zone))
	}
	return txtEquals(LeaseName(zone), l.Expect)
}

// leaseUpdates replace the lease when the message swaps it.
func (l Lease) updates(zone string, ttl uint32) []dns.RR {
	if !l.Swaps() {
		return nil
	}
	out := []dns.RR{deleteTXT(LeaseName(zone))}
	if l.Set != "" {
		out = append(out, txtRR(LeaseName(zone), dns.ClassINET, ttl, l.Set))
	}
	return out
}

// QueryTXT reads the TXT records at name, signed with Key and verified
// like QuerySigned: each record's strings joined. No record (NXDOMAIN or
// NODATA) is an empty answer, not an error.
func (c *Client) QueryTXT(ctx context.Context, name string) ([]string, error) {
	r, qname, err := c.querySigned(ctx, name, dns.TypeTXT, true)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok && dns.CanonicalName(t.Hdr.Name) == qname {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// querySigned sends one query of qtype for name, signed with Key, and
// returns the verified reply; NXDOMAIN counts as an answer when nx is set.
func (c *Client) querySigned(ctx context.Context, name string, qtype uint16, nx bool) (*dns.Msg, string, error) {
	qname := canonical(name)
	if _, ok := dns.IsDomainName(qname); !ok || qname == "" {
		return nil, qname, fmt.Errorf("query %q: not a valid domain name", name)
	}
	key, err := c.key()
	if err != nil {
		return nil, qname, fmt.Errorf("query %s: %w", name, err)
	}
	server, err := ServerAddr(c.Server)
	if err != nil {
		return nil, qname, fmt.Errorf("query %s: %w", qname, err)
	}
	r, err := c.ask(ctx, server, qname, qtype, key, nx)
	return r, qname, err
}

// isPrerequisiteRcode reports the RCODEs of a failed prerequisite.
func isPrerequisiteRcode(rc int) bool {
	switch rc {
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError, dns.RcodeYXDomain:
		return true
	}
	return false
}

// Permanent reports whether err will fail again unchanged if the same
// update is retried: the server refused it (REFUSED, NOTAUTH, NOTZONE,
// NOTIMP, FORMERR), a prerequisite failed, or a TSIG error. Such failures
// are reported and backed off rather than retried like a timeout.
func Permanent(err error) bool {
	var re *RcodeError
	if !errors.As(err, &re) {
		return errors.Is(err, ErrReplySignature)
	}
	if re.TSIGError != 0 {
		return true
	}
	switch re.Rcode {
	case dns.RcodeRefused, dns.RcodeNotAuth, dns.RcodeNotZone, dns.RcodeNotImplemented, dns.RcodeFormatError:
		return true
	}
	return isPrerequisiteRcode(re.Rcode)
}

// CNAMETarget returns the target of the CNAME at name ("" when there is
// none), read signed like QuerySigned: a CNAME admits no other data at its
// name (RFC 1034 §3.6.2, RFC 2181 §10.1), so no A/AAAA can be written there.
func (c *Client) CNAMETarget(ctx context.Context, name string) (string, error) {
	r, qname, err := c.querySigned(ctx, name, dns.TypeCNAME, true)
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		if cn, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(cn.Hdr.Name) == qname {
			return cn.Target, nil
		}
	}
	return "", nil
}

// Serial returns the SOA serial of zone, read signed like QuerySigned (for
// the audit log: the zone version an update produced, RFC 1035 §3.3.13).
func (c *Client) Serial(ctx context.Context, zone string) (uint32, error) {
	r, qname, err := c.querySigned(ctx, zone, dns.TypeSOA, false)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("query %s SOA: no SOA in the answer", qname)
}
