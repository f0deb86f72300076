package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/lbd-project/lbd/internal/tsig"
)

// Defaults of the Client fields.
const (
	DefaultTimeout = 2 * time.Second
	DefaultRetries = 2
	DefaultBackoff = 200 * time.Millisecond
	// Fudge is the TSIG time fudge, in seconds (RFC 8945 §10).
	Fudge = 300
	// maxBackoff caps the doubling backoff.
	maxBackoff = 10 * time.Second
	// maxUDP is the largest request sent over UDP (RFC 1035 §4.2.1).
	maxUDP = 512
	// ednsSize is the UDP payload size advertised in queries.
	ednsSize = 4096
)

// Client sends queries and TSIG-signed dynamic updates to one server.
// The zero value of every field but Server and Key is usable. A Client may
// be used concurrently.
type Client struct {
	Server  string        // "host:port", "[v6]:port"; a bare host gets :53
	Key     *tsig.Key     // signs every UPDATE (and QuerySigned)
	Timeout time.Duration // per exchange; 0 = DefaultTimeout
	// Retries is the number of extra attempts after a transient failure
	// (timeout, network error, SERVFAIL): 0 = DefaultRetries, negative = none.
	Retries int
	Backoff time.Duration // first wait before a retry, doubled each time; 0 = DefaultBackoff
	// InFlight bounds the zones whose UPDATEs ApplyFenced has in flight
	// at once (a zone's own messages go one after the other), across
	// every Client that shares it: the views of one server share one, as
	// the server's quota counts them together. Nil: DefaultZonesInFlight
	// for each call.
	InFlight InFlight
	// Observe, when set, is called after every exchange with the server
	// (each attempt and each transport), possibly from several goroutines.
	Observe func(Attempt)
}

// InFlight is a bound on concurrent zone updates (a counting semaphore),
// shared by the Clients of one server.
type InFlight chan struct{}

// NewInFlight returns a bound of n (at least 1) zones in flight.
func NewInFlight(n int) InFlight { return make(InFlight, max(n, 1)) }

// Attempt describes one exchange with the server, for metrics and tests.
type Attempt struct {
	Op    string // "update" or "query"
	Zone  string // zone of an update, name of a query
	Qtype uint16 // query type, 0 for an update
	Net   string // "udp" or "tcp"
	Try   int    // 1 for the first try, 2 for the first retry…
	Size  int    // request size in bytes
	Rcode int    // reply RCODE, -1 when there was no usable reply
	RTT   time.Duration
	Err   error
	// Reused is set when a TCP exchange went over a connection kept from
	// an earlier one (tcp.go).
	Reused bool
}

// key is the client's TSIG key, or an error when it has none.
func (c *Client) key() (*tsig.Key, error) {
	if c.Key == nil {
		return nil, errors.New("no TSIG key")
	}
	return c.Key, nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return DefaultRetries
	}
	return c.Retries
}

func (c *Client) backoff() time.Duration {
	if c.Backoff > 0 {
		return c.Backoff
	}
	return DefaultBackoff
}

// transportError is a failure to get a usable reply: dial, write, read,
// timeout, malformed reply. It is transient.
type transportError struct {
	net, server string
	err         error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("%s exchange with %s: %v", e.net, e.server, e.err)
}

func (e *transportError) Unwrap() error { return e.err }

func isIOError(err error) bool {
	var te *transportError
	return errors.As(err, &te) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// request is one message to exchange: op and zone for errors, a builder
// (a fresh message, hence a fresh ID and signature, for every attempt), the
// key to sign with (nil = unsigned) and the RCODEs that count as success.
type request struct {
	op    string
	zone  string
	qtype uint16
	build func() *dns.Msg
	key   *tsig.Key
	ok    func(rcode int) bool
}

// do runs req with retries and backoff. Errors name the zone (or query).
func (c *Client) do(ctx context.Context, server string, req request) (*dns.Msg, error) {
	r, err := c.doRetry(ctx, server, req)
	if err != nil {
		var re *RcodeError
		if !errors.As(err, &re) {
			if req.op == "query" {
				err = fmt.Errorf("query %s %s: %w", req.zone, dns.TypeToString[req.qtype], err)
			} else {
				err = fmt.Errorf("update zone %s: %w", req.zone, err)
			}
		}
	}
	return r, err
}

func (c *Client) doRetry(ctx context.Context, server string, req request) (*dns.Msg, error) {
	attempts := 1 + c.retries()
	wait := c.backoff()
	var last error
	for i := 1; i <= attempts; i++ {
		if err := ctx.Err(); err != nil {
			if last == nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w (after %d attempts, last error: %v)", err, i-1, last)
		}
		if i > 1 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w (after %d attempts, last error: %v)", ctx.Err(), i-1, last)
			case <-t.C:
			}
			wait = min(2*wait, maxBackoff)
		}
		r, err := c.attempt(ctx, server, req, i)
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (after %d attempts, last error: %v)", ctx.Err(), i, err)
		}
		if !Transient(err) {
			return nil, err
		}
		last = err
	}
	return nil, fmt.Errorf("giving up after %d attempts: %w", attempts, last)
}

// attempt makes one exchange: UDP when the request fits in 512 bytes,
// else TCP, and again over TCP when the UDP reply is truncated.
func (c *Client) attempt(ctx context.Context, server string, req request, n int) (*dns.Msg, error) {
	m := req.build()
	m.Id = dns.Id()
	var (
		buf []byte
		mac string
		err error
	)
	if req.key != nil {
		m.SetTsig(req.key.Name, req.key.Algorithm, Fudge, time.Now().Unix())
		buf, mac, err = dns.TsigGenerateWithProvider(m, req.key, "", false)
	} else {
		buf, err = m.Pack()
	}
	if err != nil {
		return nil, fmt.Errorf("pack %s message: %w", req.op, err)
	}
	network := "udp"
	if len(buf) > maxUDP {
		network = "tcp"
	}
	for {
		start := time.Now()
		raw, reused, err := c.roundTrip(ctx, network, server, buf, m.Id)
		var r *dns.Msg
		if err == nil {
			r, err = c.check(raw, req, mac)
			if errors.Is(err, errMalformed) {
				err = &transportError{net: network, server: server, err: err}
			}
		}
		a := Attempt{Op: req.op, Zone: req.zone, Qtype: req.qtype, Net: network, Try: n,
			Size: len(buf), Rcode: -1, RTT: time.Since(start), Err: err, Reused: reused}
		if r != nil {
			a.Rcode = r.Rcode
		}
		if c.Observe != nil {
			c.Observe(a)
		}
		if errors.Is(err, errTruncated) && network == "udp" {
			network = "tcp"
			continue
		}
		return r, err
	}
}

var (
	errTruncated = errors.New("reply truncated")
	errMalformed = errors.New("malformed reply")
)

// check parses and verifies a reply.
func (c *Client) check(raw []byte, req request, mac string) (*dns.Msg, error) {
	var h dns.Msg
	if len(raw) >= 12 && raw[2]&0x02 != 0 { // TC bit: the rest may not parse
		return nil, errTruncated
	}
	if err := h.Unpack(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	r := &h
	t := r.IsTsig()
	if req.key == nil {
		if !req.ok(r.Rcode) {
			return r, &RcodeError{Op: req.op, Zone: req.zone, Qtype: req.qtype, Rcode: r.Rcode}
		}
		return r, nil
	}
	if t == nil {
		if !req.ok(r.Rcode) {
			return r, &RcodeError{Op: req.op, Zone: req.zone, Qtype: req.qtype, Rcode: r.Rcode}
		}
		return r, fmt.Errorf("server replied %s without TSIG: %w", rcodeName(r.Rcode), ErrReplySignature)
	}
	if t.Error != 0 || !req.ok(r.Rcode) {
		return r, &RcodeError{Op: req.op, Zone: req.zone, Qtype: req.qtype, Rcode: r.Rcode, TSIGError: t.Error}
	}
	if err := dns.TsigVerifyWithProvider(raw, req.key, mac, false); err != nil {
		return r, fmt.Errorf("server replied %s, reply TSIG: %v: %w", rcodeName(r.Rcode), err, ErrReplySignature)
	}
	return r, nil
}

// roundTrip sends buf and returns the raw reply with the same ID; reused
// reports a TCP connection used before.
func (c *Client) roundTrip(ctx context.Context, network, server string, buf []byte, id uint16) (raw []byte, reused bool, err error) {
	defer func() {
		if err != nil {
			err = &transportError{net: network, server: server, err: err}
		}
	}()
	deadline := time.Now().Add(c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if network == "udp" {
		raw, err := udpExchange(ctx, server, buf, id, deadline)
		return raw, false, err
	}
	return tcpExchange(ctx, server, buf, id, deadline)
}
