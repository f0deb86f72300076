package dnsserver

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// request is one decoded request with its TSIG state.
type request struct {
	msg  *dns.Msg
	tsig *dns.TSIG // the request's TSIG, nil if unsigned
	key  *tsig.Key // set when tsig verified
	// tsigErr is the TSIG error to report (BADKEY, BADSIG, BADTIME), 0 if
	// none.
	tsigErr uint16
}

// handle processes one request message and calls emit for every reply
// message (zero for garbage and responses, several for zone transfers).
// It validates everything it reads; Server.serve adds a recover on top.
// The steps: decode, prepare the reply and its size limit (EDNS), verify
// the TSIG, dispatch on opcode, then emit.
func (s *Server) handle(raw []byte, from netip.Addr, tcp bool, emit func([]byte) error) {
	m, formErrReply := decodeRequest(raw)
	if m == nil {
		if formErrReply != nil && s.udpAction(from, tcp) == rrlSend {
			emit(formErrReply)
		}
		return
	}
	req := &request{msg: m}
	reply := newReply(m)

	// OPT (RFC 6891 §6.1.1: at most one, in the additional section).
	opt, formerr := findOPT(m)
	limit := replyLimit(opt, tcp)
	if opt != nil {
		reply.SetEdns0(maxUDPSize, false)
	}

	// TSIG (RFC 8945 §5.2): verified before anything else.
	rr, bad := findTSIG(m)
	formerr = formerr || bad
	if rr != nil && !formerr {
		formerr = s.verifyTSIG(req, raw, rr)
	}

	// UDP response rate limiting (Config.RRL), before any work is done
	// for the request; a request with a valid TSIG is exempt.
	if req.key == nil || req.tsigErr != 0 {
		switch s.udpAction(from, tcp) {
		case rrlDrop:
			return
		case rrlSlip:
			s.emitSlip(reply, emit)
			return
		}
	}

	xfr := s.dispatch(req, reply, opt, formerr, from, tcp)
	if reply.Rcode > 0xF && reply.IsEdns0() == nil {
		reply.Rcode = dns.RcodeServerFailure
	}

	if len(xfr) > 0 {
		s.emitTransfer(req, reply, xfr, emit)
		return
	}
	s.emitReply(req, reply, limit, emit)
}

// emitSlip sends reply, which holds only the question (and our OPT), with
// TC set and unsigned: the rate limiter's "slip", which a real client
// answers by retrying over TCP (RFC 1035 §4.2.1, RFC 7766 §5).
func (s *Server) emitSlip(reply *dns.Msg, emit func([]byte) error) {
	reply.Truncated = true
	if b, err := reply.Pack(); err == nil {
		emit(b)
	}
}

// decodeRequest unpacks raw. It returns a nil message when there is
// nothing more to do: garbage shorter than a header and responses get no
// reply (avoid amplification); an unparsable request gets the returned
// header-only FORMERR (RFC 1035 §4.1.1).
func decodeRequest(raw []byte) (*dns.Msg, []byte) {
	if len(raw) < 12 {
		return nil, nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		if m.Response {
			return nil, nil
		}
		r := &dns.Msg{MsgHdr: dns.MsgHdr{Id: m.Id, Response: true, Opcode: m.Opcode, Rcode: dns.RcodeFormatError}}
		b, _ := r.Pack()
		return nil, b
	}
	if m.Response {
		return nil, nil
	}
	return m, nil
}

// newReply is the reply skeleton for m: same ID and opcode, RD and CD
// copied, the first question echoed.
func newReply(m *dns.Msg) *dns.Msg {
	reply := new(dns.Msg)
	reply.Id, reply.Response, reply.Opcode = m.Id, true, m.Opcode
	reply.Compress = true
	reply.RecursionDesired = m.RecursionDesired
	reply.CheckingDisabled = m.CheckingDisabled
	if len(m.Question) > 0 {
		reply.Question = m.Question[:1]
	}
	return reply
}

// replyLimit is the largest reply allowed: 64 KiB over TCP; over UDP 512
// bytes, or the requester's EDNS buffer size capped to maxUDPSize.
func replyLimit(opt *dns.OPT, tcp bool) int {
	switch {
	case tcp:
		return dns.MaxMsgSize
	case opt != nil:
		return max(dns.MinMsgSize, min(int(opt.UDPSize()), maxUDPSize))
	default:
		return dns.MinMsgSize
	}
}

// verifyTSIG checks the request's TSIG rr against the raw message and
// records the outcome in req: the verified key, or the TSIG error to
// report (BADKEY, BADSIG; BADTIME keeps the key, the reply is signed with
// it). It reports true when the TSIG cannot be checked at all (FORMERR).
func (s *Server) verifyTSIG(req *request, raw []byte, rr *dns.TSIG) (formerr bool) {
	req.tsig = rr
	buf := append([]byte(nil), raw...)
	err := dns.TsigVerifyWithProvider(buf, s.keys, "", false)
	switch {
	case err == nil:
		req.key = s.keys[dns.CanonicalName(rr.Hdr.Name)]
	case tsig.IsBadKey(err):
		req.tsigErr = dns.RcodeBadKey
	case errors.Is(err, dns.ErrSig):
		req.tsigErr = dns.RcodeBadSig
	case errors.Is(err, dns.ErrTime):
		req.tsigErr = dns.RcodeBadTime
		req.key = s.keys[dns.CanonicalName(rr.Hdr.Name)]
	default:
		return true
	}
	return false
}

// dispatch fills reply for the request (errors first, then by opcode) and
// returns the RRs of a zone transfer, if the request is one.
func (s *Server) dispatch(req *request, reply *dns.Msg, opt *dns.OPT, formerr bool, from netip.Addr, tcp bool) []dns.RR {
	m := req.msg
	switch {
	case formerr:
		reply.Rcode = dns.RcodeFormatError
	case req.tsigErr != 0:
		reply.Rcode = dns.RcodeNotAuth
	case opt != nil && opt.Version() != 0:
		reply.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3
	case m.Opcode == dns.OpcodeQuery:
		return s.dispatchQuery(req, reply, from, tcp)
	case m.Opcode == dns.OpcodeUpdate:
		s.handleUpdate(req, reply)
	default:
		reply.Rcode = dns.RcodeNotImplemented
	}
	return nil
}

// dispatchQuery answers a QUERY: exactly one question; AXFR/IXFR return
// the transfer's RRs; meta types are not implemented.
func (s *Server) dispatchQuery(req *request, reply *dns.Msg, from netip.Addr, tcp bool) []dns.RR {
	m := req.msg
	if len(m.Question) != 1 {
		reply.Rcode = dns.RcodeFormatError
		return nil
	}
	switch m.Question[0].Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return s.xfr(m, reply, from, tcp, req.key)
	case dns.TypeMAILA, dns.TypeMAILB, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		reply.Rcode = dns.RcodeNotImplemented
	default:
		s.query(m, reply)
	}
	return nil
}

// emitReply packs (and signs) reply within limit and emits it; if packing
// fails, which cannot happen for data we validated, it answers SERVFAIL
// rather than nothing.
func (s *Server) emitReply(req *request, reply *dns.Msg, limit int, emit func([]byte) error) {
	b, err := s.pack(req, reply, limit)
	if err != nil {
		r := &dns.Msg{MsgHdr: dns.MsgHdr{Id: req.msg.Id, Response: true, Opcode: req.msg.Opcode, Rcode: dns.RcodeServerFailure}}
		r.Question = reply.Question
		if b, err = r.Pack(); err != nil {
			return
		}
	}
	emit(b)
}

// findOPT returns the OPT record; more than one, or one outside the
// additional section, is a format error.
func findOPT(m *dns.Msg) (*dns.OPT, bool) {
	var opt *dns.OPT
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, true
			}
		}
	}
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil {
				return nil, true
			}
			opt = o
		} else if rr.Header().Rrtype == dns.TypeOPT {
			return nil, true
		}
	}
	return opt, false
}

// findTSIG returns the TSIG record, which must be the last one of the
// additional section (RFC 8945 §5.1); one elsewhere is a format error.
func findTSIG(m *dns.Msg) (*dns.TSIG, bool) {
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeTSIG {
				return nil, true
			}
		}
	}
	for i, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeTSIG {
			continue
		}
		t, ok := rr.(*dns.TSIG)
		if !ok || i != len(m.Extra)-1 {
			return nil, true
		}
		return t, false
	}
	return nil, false
}

// handleUpdate is RFC 2136 §3 with RFC 8945 authorisation: the zone
// section names one of our zones (else NOTAUTH, §3.1.2), the request is
// signed with a key allowed for the zone (else REFUSED).
func (s *Server) handleUpdate(req *request, reply *dns.Msg) {
	m := req.msg
	if len(m.Question) != 1 || m.Question[0].Qtype != dns.TypeSOA {
		reply.Rcode = dns.RcodeFormatError
		return
	}
	z := s.zones[dns.CanonicalName(m.Question[0].Name)]
	if z == nil || m.Question[0].Qclass != dns.ClassINET {
		reply.Rcode = dns.RcodeNotAuth
		return
	}
	if req.key == nil || !z.cfg.updateKeys[req.key.Name] {
		reply.Rcode = dns.RcodeRefused
		return
	}
	owns := func(name string) bool { return s.findZone(name) == z }
	rc, changed, err := z.update(m.Answer, m.Ns, owns)
	if err != nil {
		s.logf("dnsserver: update: %v", err)
	}
	reply.Rcode = rc
	if changed {
		s.changed(z)
	}
}

// pack signs (when the request was signed) and packs reply, truncating it
// to limit: RRs are dropped and TC set (RFC 2181 §9); a signed reply that
// does not fit keeps no RR at all.
func (s *Server) pack(req *request, reply *dns.Msg, limit int) ([]byte, error) {
	b, _, err := s.sign(req, reply, "", false)
	if err != nil || len(b) <= limit {
		return b, err
	}
	if req.tsig == nil {
		// Truncate sets TC when answer RRs had to go.
		reply.Truncate(limit)
		if b, err = reply.Pack(); err != nil || len(b) <= limit {
			return b, err
		}
	}
	reply.Answer, reply.Ns = nil, nil
	var extra []dns.RR
	for _, rr := range reply.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	reply.Extra, reply.Truncated = extra, true
	b, _, err = s.sign(req, reply, "", false)
	return b, err
}

// sign packs reply with a TSIG answering req's (RFC 8945 §5.3): signed
// with the request's key and MAC (prevMAC and timersOnly for the later
// messages of a transfer, §5.3.1); with BADKEY/BADSIG unsigned (§5.3.2);
// with BADTIME signed and carrying our time (§5.2.3). Unsigned requests
// get unsigned replies. It returns the wire form and the reply's MAC.
func (s *Server) sign(req *request, reply *dns.Msg, prevMAC string, timersOnly bool) ([]byte, string, error) {
	if req.tsig == nil {
		b, err := reply.Pack()
		return b, "", err
	}
	now := uint64(time.Now().Unix())
	t := &dns.TSIG{
		Hdr:        dns.RR_Header{Name: dns.Fqdn(req.tsig.Hdr.Name), Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  dns.Fqdn(req.tsig.Algorithm),
		Fudge:      300,
		TimeSigned: now,
		OrigId:     reply.Id,
		Error:      req.tsigErr,
	}
	switch req.tsigErr {
	case dns.RcodeBadTime:
		t.TimeSigned = req.tsig.TimeSigned
		t.OtherLen = 6
		t.OtherData = fmt.Sprintf("%012x", now)
	case dns.RcodeBadKey, dns.RcodeBadSig:
		// Not signed: the MAC may not be used (§5.3.2).
		reply.Extra = append(reply.Extra, t)
		b, err := reply.Pack()
		reply.Extra = reply.Extra[:len(reply.Extra)-1]
		return b, "", err
	}
	mac := req.tsig.MAC
	if prevMAC != "" {
		mac = prevMAC
	}
	reply.Extra = append(reply.Extra, t)
	b, outMAC, err := dns.TsigGenerateWithProvider(reply, s.keys, mac, timersOnly)
	// TsigGenerateWithProvider removed t from reply.Extra.
	return b, outMAC, err
}

// emitTransfer sends the RRs of a transfer in as many messages as needed,
// the question in the first one only, each signed when the request was
// (RFC 5936 §2.2, RFC 8945 §5.3.1).
func (s *Server) emitTransfer(req *request, reply *dns.Msg, rrs []dns.RR, emit func([]byte) error) {
	prevMAC := ""
	first := true
	for len(rrs) > 0 {
		size, n := 0, 0
		for n < len(rrs) && (n == 0 || size+dns.Len(rrs[n]) < xfrMessageSize) {
			size += dns.Len(rrs[n])
			n++
		}
		msg := new(dns.Msg)
		msg.MsgHdr = reply.MsgHdr
		msg.Compress = true
		if first {
			msg.Question = reply.Question
			msg.Extra = reply.Extra
		}
		msg.Answer = rrs[:n]
		rrs = rrs[n:]
		b, mac, err := s.sign(req, msg, prevMAC, !first)
		if err != nil {
			return
		}
		if err := emit(b); err != nil {
			return
		}
		prevMAC, first = mac, false
	}
}
