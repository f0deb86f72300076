package agent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"  //nolint:gosec // HMAC-MD5-96 is the legacy SNMP authentication protocol (RFC 3414)
	"crypto/sha1" //nolint:gosec // HMAC-SHA-96 (RFC 3414)
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// authProto describes one USM authentication protocol.
type authProto struct {
	name   string
	new    func() hash.Hash
	macLen int // truncated HMAC length carried in msgAuthenticationParameters
	pool   *sync.Pool
}

// hashBuf is a pooled hash with scratch space for its sums, so that
// computing an HMAC per request allocates nothing.
type hashBuf struct {
	h   hash.Hash
	buf [64]byte
}

func newProto(name string, f func() hash.Hash, macLen int) *authProto {
	return &authProto{name: name, new: f, macLen: macLen,
		pool: &sync.Pool{New: func() any { return &hashBuf{h: f()} }}}
}

// RFC 3414 (md5, sha: 96-bit MACs) and RFC 7860 (SHA-2: 192/384-bit MACs).
var authProtos = map[string]*authProto{
	"md5":    newProto("md5", md5.New, 12),
	"sha":    newProto("sha", sha1.New, 12),
	"sha256": newProto("sha256", sha256.New, 24),
	"sha512": newProto("sha512", sha512.New, 48),
}

// AuthProtocols lists the accepted authentication protocol names.
var AuthProtocols = []string{"md5", "sha", "sha256", "sha512"}

// PrivProtocols lists the accepted privacy protocol names ("" = none).
var PrivProtocols = []string{"", "aes", "aes256"}

// kuCache memoises Ku (the 1 MiB password hash, independent of the engine
// ID) per protocol and password, so that many responders sharing a password
// (a simulated member farm) pay for it once.
var kuCache sync.Map // kuKey → []byte

type kuKey struct{ proto, password string }

// passwordToKey is the RFC 3414 A.2 algorithm: hash 1 MiB of the repeated
// password into Ku, then localize it: H(Ku || engineID || Ku).
func passwordToKey(p *authProto, password string, engineID []byte) []byte {
	h := p.new()
	var ku []byte
	if v, ok := kuCache.Load(kuKey{p.name, password}); ok {
		ku = v.([]byte)
	} else {
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
		kuCache.Store(kuKey{p.name, password}, ku)
	}
	h.Reset()
	h.Write(ku)
	h.Write(engineID)
	h.Write(ku)
	return h.Sum(nil)
}

// user is a configured USM user with its localized keys.
type user struct {
	name   string
	auth   *authProto
	ipad   []byte // (localized auth key padded to the block size) XOR 0x36
	opad   []byte // ... XOR 0x5c
	priv   cipher.Block
	privID string
}

func newUser(u User, engineID []byte) (*user, error) {
	if u.Name == "" {
		return nil, fmt.Errorf("user name is empty")
	}
	if len(u.Name) > 32 {
		return nil, fmt.Errorf("user %q: name longer than 32 bytes", u.Name)
	}
	p, ok := authProtos[strings.ToLower(u.AuthProtocol)]
	if !ok {
		return nil, fmt.Errorf("user %q: unknown auth protocol %q (want one of %s)", u.Name, u.AuthProtocol, strings.Join(AuthProtocols, ", "))
	}
	if len(u.AuthPassword) < 8 {
		return nil, fmt.Errorf("user %q: auth password must have at least 8 characters (RFC 3414)", u.Name)
	}
	key := passwordToKey(p, u.AuthPassword, engineID)
	bs := p.new().BlockSize()
	r := &user{name: u.Name, auth: p, ipad: make([]byte, bs), opad: make([]byte, bs)}
	copy(r.ipad, key)
	copy(r.opad, key)
	for i := range r.ipad {
		r.ipad[i] ^= 0x36
		r.opad[i] ^= 0x5c
	}
	priv := strings.ToLower(u.PrivProtocol)
	switch priv {
	case "":
		if u.PrivPassword != "" {
			return nil, fmt.Errorf("user %q: priv password set without a priv protocol", u.Name)
		}
		return r, nil
	case "aes", "aes256":
	default:
		return nil, fmt.Errorf("user %q: unknown priv protocol %q (want \"\", aes or aes256)", u.Name, u.PrivProtocol)
	}
	if len(u.PrivPassword) < 8 {
		return nil, fmt.Errorf("user %q: priv password must have at least 8 characters (RFC 3414)", u.Name)
	}
	pk := passwordToKey(p, u.PrivPassword, engineID)
	n := 16
	if priv == "aes256" {
		n = 32
		// Key extension for hashes shorter than 32 bytes, as in
		// draft-blumenthal-aes-usm-04 (Kul || H(Kul) || ...), which is what
		// gosnmp calls AES256 and net-snmp uses for AES-256.
		for len(pk) < n {
			h := p.new()
			h.Write(pk[len(pk)-p.new().Size():])
			pk = h.Sum(pk)
		}
	}
	blk, err := aes.NewCipher(pk[:n])
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Name, err)
	}
	r.priv, r.privID = blk, priv
	return r, nil
}

// mac computes the truncated HMAC of the concatenation of the parts into
// out (which must hold auth.macLen bytes).
func (u *user) mac(out []byte, parts ...[]byte) {
	hb := u.auth.pool.Get().(*hashBuf)
	h := hb.h
	h.Reset()
	h.Write(u.ipad)
	for _, p := range parts {
		h.Write(p)
	}
	inner := h.Sum(hb.buf[:0])
	h.Reset()
	h.Write(u.opad)
	h.Write(inner)
	sum := h.Sum(hb.buf[:0])
	copy(out, sum[:u.auth.macLen])
	u.auth.pool.Put(hb)
}

// cfb128 applies AES-CFB-128 (RFC 3826) in place; decrypt selects the
// direction (the feedback is the ciphertext).
func cfb128(blk cipher.Block, iv *[16]byte, data []byte, decrypt bool) {
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
