package snmpwire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"  //nolint:gosec // HMAC-MD5-96 is the legacy SNMP authentication protocol (RFC 3414)
	"crypto/sha1" //nolint:gosec // HMAC-SHA-96 (RFC 3414)
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// TimeWindow is the RFC 3414 §3.2 time window in seconds.
const TimeWindow = 150

// usmStats counters (RFC 3414 §5: 1.3.6.1.6.3.15.1.1.N.0) in BER content
// encoding, as carried in Report PDUs.
var (
	OIDUnsupportedSecLevels = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 1, 0}
	OIDNotInTimeWindows     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 2, 0}
	OIDUnknownUserNames     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 3, 0}
	OIDUnknownEngineIDs     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 4, 0}
	OIDWrongDigests         = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 5, 0}
	OIDDecryptionErrors     = []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, 6, 0}
)

// ReportName names a Report's counter OID (content encoding) for error
// messages: "usmStatsWrongDigests", or the dotted OID when unknown.
func ReportName(oid []byte) string {
	switch string(oid) {
	case string(OIDUnsupportedSecLevels):
		return "usmStatsUnsupportedSecLevels"
	case string(OIDNotInTimeWindows):
		return "usmStatsNotInTimeWindows"
	case string(OIDUnknownUserNames):
		return "usmStatsUnknownUserNames"
	case string(OIDUnknownEngineIDs):
		return "usmStatsUnknownEngineIDs"
	case string(OIDWrongDigests):
		return "usmStatsWrongDigests"
	case string(OIDDecryptionErrors):
		return "usmStatsDecryptionErrors"
	}
	return FormatOID(oid)
}

// AuthProtocol is one USM authentication protocol.
type AuthProtocol struct {
	// Name is the canonical lower-case name: md5, sha, sha224, sha256,
	// sha384, sha512.
	Name string
	// MACLen is the length of the truncated HMAC carried in
	// msgAuthenticationParameters.
	MACLen int
	new    func() hash.Hash
	pool   sync.Pool // *hashBuf
}

// hashBuf is a pooled hash with scratch space for its sums, so that
// computing an HMAC allocates nothing.
type hashBuf struct {
	h   hash.Hash
	buf [64]byte
}

func newAuth(name string, f func() hash.Hash, macLen int) *AuthProtocol {
	p := &AuthProtocol{Name: name, MACLen: macLen, new: f}
	p.pool.New = func() any { return &hashBuf{h: f()} }
	return p
}

// RFC 3414 (md5, sha: 96-bit MACs) and RFC 7860 (SHA-2).
var (
	AuthMD5    = newAuth("md5", md5.New, 12)
	AuthSHA    = newAuth("sha", sha1.New, 12)
	AuthSHA224 = newAuth("sha224", sha256.New224, 16)
	AuthSHA256 = newAuth("sha256", sha256.New, 24)
	AuthSHA384 = newAuth("sha384", sha512.New384, 32)
	AuthSHA512 = newAuth("sha512", sha512.New, 48)
)

// AuthProtocolNames lists the names LookupAuth accepts (canonical forms).
var AuthProtocolNames = []string{"md5", "sha", "sha224", "sha256", "sha384", "sha512"}

// LookupAuth returns the authentication protocol named s (case-insensitive;
// "sha1" is "sha", "sha-256" is "sha256").
func LookupAuth(s string) (*AuthProtocol, error) {
	switch strings.ReplaceAll(strings.ToLower(s), "-", "") {
	case "md5":
		return AuthMD5, nil
	case "sha", "sha1":
		return AuthSHA, nil
	case "sha224":
		return AuthSHA224, nil
	case "sha256":
		return AuthSHA256, nil
	case "sha384":
		return AuthSHA384, nil
	case "sha512":
		return AuthSHA512, nil
	}
	return nil, fmt.Errorf("unknown auth protocol %q (%s)", s, strings.Join(AuthProtocolNames, ", "))
}

// HashLen is the length of the protocol's hash (and of its localized keys).
func (p *AuthProtocol) HashLen() int { return p.new().Size() }

// kuCache memoises Ku (the 1 MiB password hash, independent of the engine
// ID) per protocol and password: many agents sharing a password cost one
// expansion. It is bounded; when full it is emptied.
var kuCache = struct {
	sync.Mutex
	m map[kuKey][]byte
}{m: map[kuKey][]byte{}}

type kuKey struct{ proto, password string }

const kuCacheMax = 64

// PasswordToKu is the first half of RFC 3414 A.2: hash 1 MiB of the
// repeated password. The result is cached per protocol and password and
// must not be modified.
func (p *AuthProtocol) PasswordToKu(password string) ([]byte, error) {
	if password == "" {
		return nil, errors.New("snmpwire: empty password")
	}
	k := kuKey{p.Name, password}
	kuCache.Lock()
	ku, ok := kuCache.m[k]
	kuCache.Unlock()
	if ok {
		return ku, nil
	}
	h := p.new()
	var chunk [64]byte
	pi := 0
	for done := 0; done < 1<<20; done += len(chunk) {
		for i := range chunk {
			chunk[i] = password[pi]
			pi++
			if pi == len(password) {
				pi = 0
			}
		}
		h.Write(chunk[:])
	}
	ku = h.Sum(nil)
	kuCache.Lock()
	if len(kuCache.m) >= kuCacheMax {
		clear(kuCache.m)
	}
	kuCache.m[k] = ku
	kuCache.Unlock()
	return ku, nil
}

// Localize is the second half of RFC 3414 A.2: Kul = H(Ku ‖ engineID ‖ Ku).
func (p *AuthProtocol) Localize(ku, engineID []byte) []byte {
	h := p.new()
	h.Write(ku)
	h.Write(engineID)
	h.Write(ku)
	return h.Sum(nil)
}

// PasswordToKey returns the password's key localized to engineID.
func (p *AuthProtocol) PasswordToKey(password string, engineID []byte) ([]byte, error) {
	ku, err := p.PasswordToKu(password)
	if err != nil {
		return nil, err
	}
	return p.Localize(ku, engineID), nil
}

// AuthKey is a localized authentication key ready to compute HMACs. It is
// immutable and safe for concurrent use.
type AuthKey struct {
	proto      *AuthProtocol
	ipad, opad []byte // key padded to the block size, XOR 0x36 / 0x5c
}

// NewAuthKey prepares the localized key kul for p.
func NewAuthKey(p *AuthProtocol, kul []byte) *AuthKey {
	bs := p.new().BlockSize()
	k := &AuthKey{proto: p, ipad: make([]byte, bs), opad: make([]byte, bs)}
	copy(k.ipad, kul)
	copy(k.opad, kul)
	for i := range k.ipad {
		k.ipad[i] ^= 0x36
		k.opad[i] ^= 0x5c
	}
	return k
}

// LocalAuthKey is PasswordToKey followed by NewAuthKey.
func LocalAuthKey(p *AuthProtocol, password string, engineID []byte) (*AuthKey, error) {
	kul, err := p.PasswordToKey(password, engineID)
	if err != nil {
		return nil, err
	}
	return NewAuthKey(p, kul), nil
}

// Protocol returns the key's protocol.
func (k *AuthKey) Protocol() *AuthProtocol { return k.proto }

// MAC computes the truncated HMAC of the concatenation of parts into out,
// which must hold Protocol().MACLen bytes.
func (k *AuthKey) MAC(out []byte, parts ...[]byte) {
	hb := k.proto.pool.Get().(*hashBuf)
	h := hb.h
	h.Reset()
	h.Write(k.ipad)
	for _, p := range parts {
		h.Write(p)
	}
	inner := h.Sum(hb.buf[:0])
	h.Reset()
	h.Write(k.opad)
	h.Write(inner)
	sum := h.Sum(hb.buf[:0])
	copy(out, sum[:k.proto.MACLen])
	k.proto.pool.Put(hb)
}

var zeroMAC [48]byte

// Sign computes the HMAC of msg, whose msgAuthenticationParameters content
// of MACLen bytes starts at off and holds zeros, and writes it there.
func (k *AuthKey) Sign(msg []byte, off int) {
	k.MAC(msg[off:off+k.proto.MACLen], msg)
}

// Verify reports whether the MACLen bytes at msg[off:] are the HMAC of msg
// with that field zeroed (RFC 3414 §6.3.2). msg is not modified. A field of
// the wrong position or size fails.
func (k *AuthKey) Verify(msg []byte, off int) bool {
	ml := k.proto.MACLen
	if off < 0 || off+ml > len(msg) {
		return false
	}
	var got [48]byte
	k.MAC(got[:ml], msg[:off], zeroMAC[:ml], msg[off+ml:])
	return subtle.ConstantTimeCompare(got[:ml], msg[off:off+ml]) == 1
}

// PrivProtocol is a USM privacy protocol (AES in CFB-128 mode).
type PrivProtocol struct {
	// Name is the canonical name: aes, aes192, aes256.
	Name string
	// KeyLen is the AES key length in bytes.
	KeyLen int
}

// Privacy protocols: RFC 3826 AES-128, and AES-192/256 with the
// draft-blumenthal-aes-usm-04 key extension (net-snmp's AES-192/AES-256,
// gosnmp's AES192/AES256).
var (
	PrivAES    = &PrivProtocol{"aes", 16}
	PrivAES192 = &PrivProtocol{"aes192", 24}
	PrivAES256 = &PrivProtocol{"aes256", 32}
)

// PrivProtocolNames lists the names LookupPriv accepts ("" = none).
var PrivProtocolNames = []string{"", "none", "aes", "aes192", "aes256"}

// LookupPriv returns the privacy protocol named s; "" and "none" give nil
// (no privacy). "aes128" is "aes"; dashes are ignored ("AES-256").
func LookupPriv(s string) (*PrivProtocol, error) {
	switch strings.ReplaceAll(strings.ToLower(s), "-", "") {
	case "", "none":
		return nil, nil
	case "aes", "aes128":
		return PrivAES, nil
	case "aes192":
		return PrivAES192, nil
	case "aes256":
		return PrivAES256, nil
	}
	return nil, fmt.Errorf("unknown priv protocol %q (\"\", aes, aes192, aes256)", s)
}

// PrivKey is a localized privacy key. It is immutable and safe for
// concurrent use.
type PrivKey struct {
	proto *PrivProtocol
	block cipher.Block
}

// ExtendKey lengthens a localized key kul to n bytes with the
// draft-blumenthal-aes-usm-04 extension: kul ‖ H(kul) ‖ H(H(kul)) ‖ …,
// then truncates it to n.
func ExtendKey(auth *AuthProtocol, kul []byte, n int) []byte {
	out := append([]byte(nil), kul...)
	hl := auth.HashLen()
	for len(out) < n {
		h := auth.new()
		h.Write(out[len(out)-hl:])
		out = h.Sum(out)
	}
	return out[:n]
}

// NewPrivKey localizes password to engineID with auth's hash (RFC 3414
// A.2; privacy keys use the authentication protocol's hash) and prepares
// the AES key for priv.
func NewPrivKey(auth *AuthProtocol, priv *PrivProtocol, password string, engineID []byte) (*PrivKey, error) {
	if priv == nil {
		return nil, errors.New("snmpwire: no privacy protocol")
	}
	kul, err := auth.PasswordToKey(password, engineID)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(ExtendKey(auth, kul, priv.KeyLen))
	if err != nil {
		return nil, err
	}
	return &PrivKey{proto: priv, block: blk}, nil
}

// Protocol returns the key's protocol.
func (k *PrivKey) Protocol() *PrivProtocol { return k.proto }

// IV is the RFC 3826 §3.1.2.1 initialization vector: the authoritative
// engine's boots and time (32-bit big-endian each) then the 8-byte salt
// carried in msgPrivacyParameters.
func IV(boots, engineTime uint32, salt []byte) [16]byte {
	var iv [16]byte
	binary.BigEndian.PutUint32(iv[0:], boots)
	binary.BigEndian.PutUint32(iv[4:], engineTime)
	copy(iv[8:], salt)
	return iv
}

// Encrypt encrypts data in place (AES-CFB-128, no padding needed).
func (k *PrivKey) Encrypt(iv [16]byte, data []byte) { CFB128(k.block, &iv, data, false) }

// Decrypt decrypts data in place.
func (k *PrivKey) Decrypt(iv [16]byte, data []byte) { CFB128(k.block, &iv, data, true) }

// CFB128 applies AES-CFB-128 (RFC 3826) to data in place; decrypt selects
// the direction (the feedback is the ciphertext). It allocates nothing.
func CFB128(blk cipher.Block, iv *[16]byte, data []byte, decrypt bool) {
	var ks [16]byte
	fb := *iv
	for len(data) > 0 {
		blk.Encrypt(ks[:], fb[:])
		n := min(16, len(data))
		for i := 0; i < n; i++ {
			c := data[i]
			data[i] ^= ks[i]
			if decrypt {
				fb[i] = c
			} else {
				fb[i] = data[i]
			}
		}
		data = data[n:]
	}
}
