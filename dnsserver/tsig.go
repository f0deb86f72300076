package dnsserver

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"

	"github.com/miekg/dns"
)

// errBadKey is the verification error for an unknown key name or an
// algorithm that does not match the configured key (RFC 8945 §5.2.1).
var errBadKey = errors.New("TSIG: unknown key or algorithm")

// keyring implements dns.TsigProvider over the configured keys. It is used
// instead of the library's provider because that one does not accept
// hmac-md5.
type keyring map[string]*compiledKey

func (kr keyring) lookup(t *dns.TSIG) (*compiledKey, error) {
	k := kr[dns.CanonicalName(t.Hdr.Name)]
	if k == nil || dns.CanonicalName(t.Algorithm) != k.alg {
		return nil, errBadKey
	}
	return k, nil
}

// Generate implements dns.TsigProvider.
func (kr keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	k, err := kr.lookup(t)
	if err != nil {
		return nil, err
	}
	return k.mac(msg), nil
}

// Verify implements dns.TsigProvider; only full-length MACs are accepted.
func (kr keyring) Verify(msg []byte, t *dns.TSIG) error {
	k, err := kr.lookup(t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(k.mac(msg), got) {
		return dns.ErrSig
	}
	return nil
}
