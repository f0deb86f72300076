package announce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/lbd-project/lbd/internal/register"
)

// Settings say what this member announces.
type Settings struct {
	// Targets are the lbd HTTP addresses, "host:port".
	Targets []string
	// Host is the member's name; Addrs the addresses lbd polls (none: the
	// source address of the request).
	Host  string
	Addrs []netip.Addr
	// Aliases are announced in this order, each signed with Secrets[alias].
	Aliases []string
	Secrets map[string][]byte
	// TTL is how long a registration lasts without renewal.
	TTL time.Duration
}

// Request is the signed registrations of s at now.
func Request(s Settings, now time.Time) register.Request {
	var req register.Request
	for _, a := range s.Aliases {
		req.Registrations = append(req.Registrations,
			register.Sign(register.New(a, s.Host, s.Addrs, s.TTL, now), s.Secrets[a]))
	}
	return req
}

// Client is an HTTP client for Send; from, when valid, is the local address
// requests are sent from (lbd registers the source address when the
// registration names none, and otherwise wants it among them).
func Client(from netip.Addr, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil,
		MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}}
}

// Send posts req to the lbd at target ("host:port") and returns its
// verdicts. A refused registration is not an error of Send: see the
// Results.
func Send(ctx context.Context, c *http.Client, target string, req register.Request) (register.Reply, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return register.Reply{}, err
	}
	url := "http://" + target + register.Path
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return register.Reply{}, fmt.Errorf("register at %s: %w", target, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(hr)
	if err != nil {
		return register.Reply{}, fmt.Errorf("register at %s: %w", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, register.MaxBody))
	if err != nil {
		return register.Reply{}, fmt.Errorf("register at %s: %w", target, err)
	}
	var rep register.Reply
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != len(req.Registrations) {
		return register.Reply{}, fmt.Errorf("register at %s: HTTP %d: %s", target, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return rep, nil
}

// Refusals joins the refused results of rep (nil: all accepted).
func Refusals(rep register.Reply) error {
	var errs []error
	for _, r := range rep.Results {
		if !r.OK {
			errs = append(errs, fmt.Errorf("%s: %s", r.Alias, r.Error))
		}
	}
	return errors.Join(errs...)
}
