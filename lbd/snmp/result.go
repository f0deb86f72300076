package snmp

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Poll results, as Reply.Result names them (the result label of
// lbd_polls_total, docs/operations.md "Metrics").
const (
	// PollOK: the agent answered a load (0 and positive loads; an OCTET
	// STRING none of whose entries is negative).
	PollOK = "ok"
	// PollNegative: the agent answered a negative code, or an OCTET STRING
	// with at least one negative entry (docs/protocol.md §5.3).
	PollNegative = "negative_code"
	// PollTimeout: no acceptable reply within timeout × (1 + retries).
	PollTimeout = "timeout"
	// PollAuthError: the agent refused our credentials (an SNMPv3 Report
	// such as usmStatsWrongDigests or usmStatsUnknownUserNames, RFC 3414
	// §3.2), or the only replies were dropped for a bad community, user,
	// HMAC or security level.
	PollAuthError = "auth_error"
	// PollMalformed: the agent answered, but not with a load (an
	// error-status, another OID, noSuchObject, a value of another type).
	PollMalformed = "malformed"
	// PollError: anything else (socket error, poller closed, cycle
	// cancelled).
	PollError = "error"
)

// PollResults lists every value Reply.Result returns.
var PollResults = []string{PollOK, PollNegative, PollTimeout, PollAuthError, PollMalformed, PollError}

// answerError is the failure of an address that answered, but not with a
// load.
type answerError struct{ err error }

func (e *answerError) Error() string { return e.err.Error() }
func (e *answerError) Unwrap() error { return e.err }

// badAnswer marks err (nil stays nil) as a wrong answer.
func badAnswer(err error) error {
	if err == nil {
		return nil
	}
	return &answerError{err}
}

// reportError is an SNMPv3 Report other than the two a resynchronisation
// handles (RFC 3414 §3.2): a refusal of our credentials or security level.
type reportError struct{ name string }

func (e *reportError) Error() string { return "agent reported " + e.name }

// authDrops are the reasons for dropping a reply that point at our
// credentials rather than at the network.
var authDrops = map[string]bool{
	errWrongCommunity.Error(): true, errWrongUser.Error(): true, errBadHMAC.Error(): true,
	errDecrypt.Error(): true, errUnauthResponse.Error(): true,
}

// Result classifies the reply for metrics: one of PollResults.
func (r Reply) Result() string {
	var (
		te *timeoutError
		re *reportError
		ae *answerError
	)
	switch {
	case r.Err == nil && negative(r.Value):
		return PollNegative
	case r.Err == nil:
		return PollOK
	case errors.As(r.Err, &re):
		return PollAuthError
	case errors.As(r.Err, &te) && authDrops[te.dropped]:
		return PollAuthError
	case te != nil:
		return PollTimeout
	case errors.As(r.Err, &ae):
		return PollMalformed
	case errors.Is(r.Err, context.DeadlineExceeded):
		return PollTimeout
	}
	return PollError
}

// negative reports a value that gives a negative load: the INTEGER, or any
// well-formed entry of an OCTET STRING (split as Value.LoadFor does).
func negative(v Value) bool {
	if !v.IsString {
		return v.Int < 0
	}
	for item := range strings.SplitSeq(v.Str, ",") {
		_, num, ok := strings.Cut(item, "=")
		if n, err := strconv.Atoi(strings.TrimSpace(num)); ok && err == nil && n < 0 {
			return true
		}
	}
	return false
}
