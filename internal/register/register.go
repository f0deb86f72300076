package register

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Path is the HTTP path registrations are posted to.
const Path = "/register"

// MaxBody bounds a request's body (about 2,000 registrations).
const MaxBody = 1 << 20

// MinSecretLen is the shortest secret accepted.
const MinSecretLen = 16

// Registration announces that Host, reachable at Addrs, is a member of
// Alias for TTLSeconds from Time.
type Registration struct {
	Version int    `json:"v"`
	Alias   string `json:"alias"`
	Host    string `json:"host"`
	// Addrs are the addresses lbd polls; empty: the request's source.
	Addrs      []string `json:"addrs,omitempty"`
	TTLSeconds int64    `json:"ttl_seconds"`
	Time       int64    `json:"time"` // Unix seconds
	MAC        string   `json:"mac"`
}

// Request is the body of a POST to Path.
type Request struct {
	Registrations []Registration `json:"registrations"`
}

// Result is the outcome of one registration.
type Result struct {
	Alias string `json:"alias"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Reply is the answer to a Request, one Result per registration in order.
type Reply struct {
	Results []Result `json:"results"`
}

// Canonical is the text a registration's MAC is computed over: the
// version, alias and host in lower case, the addresses sorted, the TTL and
// the time, one "key=value" per line.
func Canonical(r Registration) string {
	addrs := slices.Clone(r.Addrs)
	slices.Sort(addrs)
	var b strings.Builder
	b.WriteString("lbd-register v=" + strconv.Itoa(r.Version) + "\n")
	b.WriteString("alias=" + normName(r.Alias) + "\n")
	b.WriteString("host=" + normName(r.Host) + "\n")
	b.WriteString("addrs=" + strings.Join(addrs, ",") + "\n")
	b.WriteString("ttl=" + strconv.FormatInt(r.TTLSeconds, 10) + "\n")
	b.WriteString("time=" + strconv.FormatInt(r.Time, 10) + "\n")
	return b.String()
}

func normName(s string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") }

func mac(secret []byte, r Registration) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(Canonical(r)))
	return h.Sum(nil)
}

// Sign sets r's version and MAC for secret.
func Sign(r Registration, secret []byte) Registration {
	r.Version = 1
	r.MAC = hex.EncodeToString(mac(secret, r))
	return r
}

// Verify reports whether r's MAC is right for secret (in constant time).
func Verify(r Registration, secret []byte) bool {
	got, err := hex.DecodeString(r.MAC)
	return err == nil && r.Version == 1 && hmac.Equal(got, mac(secret, r))
}

// New is a registration of host for alias at now, valid for ttl (whole
// seconds), unsigned.
func New(alias, host string, addrs []netip.Addr, ttl time.Duration, now time.Time) Registration {
	r := Registration{Version: 1, Alias: normName(alias), Host: normName(host), TTLSeconds: int64(ttl / time.Second), Time: now.Unix()}
	for _, a := range addrs {
		r.Addrs = append(r.Addrs, a.String())
	}
	return r
}

// ParseSecrets reads a secret file: one "alias secret" pair per line,
// separated by white space; blank lines and lines starting with '#' are
// skipped. Alias names are compared in lower case without a final dot.
func ParseSecrets(text string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"alias secret\"", n+1)
		}
		if len(f[1]) < MinSecretLen {
			return nil, fmt.Errorf("line %d: the secret of %s must be at least %d characters", n+1, f[0], MinSecretLen)
		}
		alias := normName(f[0])
		if _, dup := out[alias]; dup {
			return nil, fmt.Errorf("line %d: %s has a secret already", n+1, f[0])
		}
		out[alias] = []byte(f[1])
	}
	return out, nil
}
