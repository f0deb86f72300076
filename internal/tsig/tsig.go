package tsig

import (
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // hmac-md5 is an RFC 8945 TSIG algorithm still in use
	"crypto/sha1" //nolint:gosec // hmac-sha1 (RFC 8945 §6)
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DefaultAlgorithm is the algorithm of a key configured without one.
const DefaultAlgorithm = "hmac-sha256"

// algorithms maps the canonical wire name of each supported algorithm to
// its hash.
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

// Spec is a TSIG key as configured (TOML `{ name, algorithm, secret }`), the
// one key type of every package: Name is the key name ("lbd-internal." or
// without the final dot), Algorithm any spelling CanonicalAlgorithm accepts
// ("" = DefaultAlgorithm), Secret the base64-encoded shared secret.
type Spec struct {
	Name      string `toml:"name"`
	Algorithm string `toml:"algorithm"`
	Secret    string `toml:"secret"`
}

// Compile validates s into a Key (see Compile).
func (s Spec) Compile() (*Key, error) { return Compile(s.Name, s.Algorithm, s.Secret) }

// Key is a validated TSIG key. As a dns.TsigProvider it signs and verifies
// messages whose TSIG record carries its name and algorithm. It is
// immutable and safe for concurrent use.
type Key struct {
	// Name is the key name, canonical (lower case, fully qualified).
	Name string
	// Algorithm is the canonical wire name of the algorithm.
	Algorithm string
	secret    []byte
	// macs are keyed HMACs ready for reuse (hmac.New computes the key's
	// pads each time: a cycle signs and verifies thousands of messages).
	macs sync.Pool
}

// Compile validates a key as configured: name a domain name (with or
// without the final dot), algorithm any spelling CanonicalAlgorithm
// accepts, secret the base64-encoded shared secret (not empty). Surrounding
// spaces are ignored.
func Compile(name, algorithm, secret string) (*Key, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return nil, errors.New("TSIG key: empty name")
	}
	if _, ok := dns.IsDomainName(n); !ok {
		return nil, fmt.Errorf("TSIG key %q: not a valid domain name", name)
	}
	alg, err := CanonicalAlgorithm(algorithm)
	if err != nil {
		return nil, fmt.Errorf("TSIG key %q: %w", name, err)
	}
	s := strings.TrimSpace(secret)
	if s == "" {
		return nil, fmt.Errorf("TSIG key %q: empty secret", name)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("TSIG key %q: secret is not valid base64: %w", name, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("TSIG key %q: empty secret", name)
	}
	return &Key{Name: dns.CanonicalName(n), Algorithm: alg, secret: raw}, nil
}

// MAC returns the full-length HMAC of msg under the key.
func (k *Key) MAC(msg []byte) []byte {
	h, ok := k.macs.Get().(hash.Hash)
	if ok {
		h.Reset()
	} else {
		h = hmac.New(algorithms[k.Algorithm], k.secret)
	}
	h.Write(msg)
	mac := h.Sum(nil)
	k.macs.Put(h)
	return mac
}

// check reports a TSIG record for another key (wrapping dns.ErrSecret) or
// another algorithm (wrapping dns.ErrKeyAlg): see IsBadKey.
func (k *Key) check(t *dns.TSIG) error {
	if dns.CanonicalName(t.Hdr.Name) != k.Name {
		return fmt.Errorf("TSIG key name %q, want %q: %w", t.Hdr.Name, k.Name, dns.ErrSecret)
	}
	if dns.CanonicalName(t.Algorithm) != k.Algorithm {
		return fmt.Errorf("TSIG algorithm %q, want %q: %w", t.Algorithm, k.Algorithm, dns.ErrKeyAlg)
	}
	return nil
}

// Generate implements dns.TsigProvider.
func (k *Key) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if err := k.check(t); err != nil {
		return nil, err
	}
	return k.MAC(msg), nil
}

// Verify implements dns.TsigProvider. It requires a full-length MAC; a
// MAC that differs (or is not hex) is dns.ErrSig.
func (k *Key) Verify(msg []byte, t *dns.TSIG) error {
	if err := k.check(t); err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return fmt.Errorf("TSIG MAC: %v: %w", err, dns.ErrSig)
	}
	if !hmac.Equal(k.MAC(msg), got) {
		return dns.ErrSig
	}
	return nil
}

// Keyring is a set of keys by Key.Name. As a dns.TsigProvider it uses the
// key the TSIG record names.
type Keyring map[string]*Key

// Lookup returns the key a TSIG record names. An unknown name wraps
// dns.ErrSecret (see IsBadKey); the algorithm is checked by the key.
func (kr Keyring) Lookup(t *dns.TSIG) (*Key, error) {
	k := kr[dns.CanonicalName(t.Hdr.Name)]
	if k == nil {
		return nil, fmt.Errorf("TSIG key %q: %w", t.Hdr.Name, dns.ErrSecret)
	}
	return k, nil
}

// Generate implements dns.TsigProvider.
func (kr Keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	k, err := kr.Lookup(t)
	if err != nil {
		return nil, err
	}
	return k.Generate(msg, t)
}

// Verify implements dns.TsigProvider.
func (kr Keyring) Verify(msg []byte, t *dns.TSIG) error {
	k, err := kr.Lookup(t)
	if err != nil {
		return err
	}
	return k.Verify(msg, t)
}

// IsBadKey reports whether err, from a Key's or a Keyring's Generate or
// Verify, means the TSIG record names a key or algorithm that is not
// configured: the RFC 8945 §5.2.1 BADKEY case.
func IsBadKey(err error) bool {
	return errors.Is(err, dns.ErrSecret) || errors.Is(err, dns.ErrKeyAlg)
}
