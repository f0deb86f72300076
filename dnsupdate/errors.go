package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/miekg/dns"
)

// RcodeError is a reply whose RCODE is not success.
type RcodeError struct {
	Op    string // "update" or "query"
	Zone  string // zone of an update, name of a query
	Qtype uint16 // type of a query, 0 for an update
	Rcode int    // the reply's RCODE (extended RCODEs included)
	// TSIGError is the error field of the reply's TSIG record (RFC 8945
	// §5.3.2: BADSIG, BADKEY, BADTIME…), 0 when absent or none.
	TSIGError uint16
}

func (e *RcodeError) Error() string {
	var s string
	if e.Op == "query" {
		s = fmt.Sprintf("query %s %s: server replied %s", e.Zone, dns.TypeToString[e.Qtype], rcodeName(e.Rcode))
	} else {
		s = fmt.Sprintf("update zone %s: server replied %s", e.Zone, rcodeName(e.Rcode))
	}
	if e.TSIGError != 0 {
		s += fmt.Sprintf(" (TSIG error %s)", rcodeName(int(e.TSIGError)))
	}
	return s
}

// Is makes a failed prerequisite of an update match ErrPrerequisite.
func (e *RcodeError) Is(target error) bool {
	return target == ErrPrerequisite && e.Op == "update" && isPrerequisiteRcode(e.Rcode)
}

// Transient reports whether the RCODE may succeed when retried (SERVFAIL).
func (e *RcodeError) Transient() bool {
	return e.Rcode == dns.RcodeServerFailure && e.TSIGError == 0
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// Rcode returns the RCODE of the first *RcodeError in err's chain.
func Rcode(err error) (rcode int, ok bool) {
	var re *RcodeError
	if errors.As(err, &re) {
		return re.Rcode, true
	}
	return 0, false
}

// ErrReplySignature is returned when a reply's TSIG is missing or does not
// verify although its RCODE is NOERROR: the update may have been applied,
// but the answer cannot be trusted.
var ErrReplySignature = errors.New("reply TSIG missing or invalid")

// Transient reports whether err is worth retrying: a timeout, a network
// error, or a SERVFAIL reply. Context cancellation is not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var re *RcodeError
	if errors.As(err, &re) {
		return re.Transient()
	}
	if errors.Is(err, ErrReplySignature) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) || isIOError(err)
}
