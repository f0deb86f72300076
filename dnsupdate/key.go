package dnsupdate

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/miekg/dns"
)

// Key is a TSIG key (RFC 8945). Name is the key name as configured on the
// server ("lbd-internal." or without the final dot), Algorithm one of
// hmac-md5 (also hmac-md5.sig-alg.reg.int.), hmac-sha1, hmac-sha224,
// hmac-sha256, hmac-sha384, hmac-sha512 ("" = hmac-sha256), Secret the
// base64-encoded shared secret.
type Key struct {
	Name, Algorithm, Secret string
}

// DefaultAlgorithm is used when Key.Algorithm is empty.
const DefaultAlgorithm = "hmac-sha256"

// algorithms maps the canonical wire name of each supported TSIG algorithm
// to its hash.
var algorithms = map[string]func() hash.Hash{
	dns.HmacMD5:    md5.New,
	dns.HmacSHA1:   sha1.New,
	dns.HmacSHA224: sha256.New224,
	dns.HmacSHA256: sha256.New,
	dns.HmacSHA384: sha512.New384,
	dns.HmacSHA512: sha512.New,
}

// CanonicalAlgorithm returns the wire name of a TSIG algorithm given in any
// accepted spelling ("HMAC-SHA256", "hmac-sha256.", "hmac-md5",
// "hmac-md5.sig-alg.reg.int"); "" means DefaultAlgorithm.
func CanonicalAlgorithm(alg string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(alg))
	if a == "" {
		a = DefaultAlgorithm
	}
	a = dns.Fqdn(a)
	if a == "hmac-md5." {
		a = dns.HmacMD5
	}
	if _, ok := algorithms[a]; !ok {
		return "", fmt.Errorf("unknown TSIG algorithm %q (want hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512)", alg)
	}
	return a, nil
}

// Validate reports an empty or malformed name, an unknown algorithm and a
// secret that is empty or not base64.
func (k Key) Validate() error {
	_, err := k.compile()
	return err
}

// tsigKey is a validated Key, ready for signing.
type tsigKey struct {
	name   string // canonical: lower case, fully qualified
	alg    string // canonical wire name
	secret []byte
}

func (k Key) compile() (*tsigKey, error) {
	name := strings.TrimSpace(k.Name)
	if name == "" {
		return nil, errors.New("TSIG key: empty name")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("TSIG key %q: not a valid domain name", k.Name)
	}
	alg, err := CanonicalAlgorithm(k.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("TSIG key %q: %w", k.Name, err)
	}
	s := strings.TrimSpace(k.Secret)
	if s == "" {
		return nil, fmt.Errorf("TSIG key %q: empty secret", k.Name)
	}
	secret, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("TSIG key %q: secret is not valid base64: %w", k.Name, err)
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("TSIG key %q: empty secret", k.Name)
	}
	return &tsigKey{name: dns.CanonicalName(name), alg: alg, secret: secret}, nil
}

// tsigKey implements dns.TsigProvider for one key. It is used instead of
// the library's provider because that one no longer accepts hmac-md5, which
// existing deployments use (COMPAT.md §8).

func (k *tsigKey) mac(msg []byte, t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Hdr.Name) != k.name {
		return nil, fmt.Errorf("TSIG key name %q, want %q: %w", t.Hdr.Name, k.name, dns.ErrSecret)
	}
	if dns.CanonicalName(t.Algorithm) != k.alg {
		return nil, fmt.Errorf("TSIG algorithm %q, want %q: %w", t.Algorithm, k.alg, dns.ErrKeyAlg)
	}
	h := hmac.New(algorithms[k.alg], k.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Generate implements dns.TsigProvider.
func (k *tsigKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	return k.mac(msg, t)
}

// Verify implements dns.TsigProvider. It requires a full-length MAC.
func (k *tsigKey) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return fmt.Errorf("TSIG MAC: %w", err)
	}
	if !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}
