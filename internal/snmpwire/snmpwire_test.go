package snmpwire

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // test vectors
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 3414 A.3.1 and A.3.2.
func TestPasswordToKeyRFC3414(t *testing.T) {
	engine := unhex(t, "000000000000000000000002")
	for _, c := range []struct {
		p       *AuthProtocol
		ku, kul string
	}{
		{AuthMD5, "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"},
		{AuthSHA, "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"},
	} {
		ku, err := c.p.PasswordToKu("maplesyrup")
		if err != nil || hex.EncodeToString(ku) != c.ku {
			t.Errorf("%s Ku = %x, %v", c.p.Name, ku, err)
		}
		kul, err := c.p.PasswordToKey("maplesyrup", engine)
		if err != nil || hex.EncodeToString(kul) != c.kul {
			t.Errorf("%s Kul = %x, %v", c.p.Name, kul, err)
		}
	}
	if _, err := AuthMD5.PasswordToKu(""); err == nil {
		t.Error("empty password accepted")
	}
}

func TestLookup(t *testing.T) {
	for _, n := range []string{"md5", "MD5", "sha", "sha1", "SHA-256", "sha224", "sha384", "sha512"} {
		if _, err := LookupAuth(n); err != nil {
			t.Error(n, err)
		}
	}
	if _, err := LookupAuth("des"); err == nil {
		t.Error("des accepted as auth")
	}
	for n, want := range map[string]*PrivProtocol{"": nil, "none": nil, "aes": PrivAES, "AES-128": PrivAES, "aes192": PrivAES192, "AES-256": PrivAES256} {
		if p, err := LookupPriv(n); err != nil || p != want {
			t.Error(n, p, err)
		}
	}
	if _, err := LookupPriv("des"); err == nil {
		t.Error("des accepted as priv")
	}
}

func TestMACMatchesHMAC(t *testing.T) {
	msg := bytes.Repeat([]byte("snmp message "), 20)
	for _, c := range []struct {
		p *AuthProtocol
		h func() hash.Hash
	}{{AuthMD5, md5.New}, {AuthSHA256, sha256.New}, {AuthSHA384, sha512.New384}, {AuthSHA512, sha512.New}} {
		kul, _ := c.p.PasswordToKey("password1", []byte("engine-id"))
		k := NewAuthKey(c.p, kul)
		m := hmac.New(c.h, kul)
		m.Write(msg)
		want := m.Sum(nil)[:c.p.MACLen]
		got := make([]byte, c.p.MACLen)
		k.MAC(got, msg[:10], msg[10:])
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %x want %x", c.p.Name, got, want)
		}
		// Sign/Verify with the field in the middle of a message.
		buf := append(append(append([]byte{}, msg[:7]...), make([]byte, c.p.MACLen)...), msg[7:]...)
		k.Sign(buf, 7)
		if !k.Verify(buf, 7) {
			t.Errorf("%s: signed message does not verify", c.p.Name)
		}
		buf[len(buf)-1] ^= 1
		if k.Verify(buf, 7) || k.Verify(buf, len(buf)-2) || k.Verify(buf, -1) {
			t.Errorf("%s: tampered message verifies", c.p.Name)
		}
	}
}

func TestCFB128AndKeyExtension(t *testing.T) {
	key := unhex(t, "000102030405060708090a0b0c0d0e0f")
	blk, _ := aes.NewCipher(key)
	iv := IV(7, 1234, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	plain := []byte("a scoped PDU of an odd length, 45 bytes long.")
	want := make([]byte, len(plain))
	cipher.NewCFBEncrypter(blk, iv[:]).XORKeyStream(want, plain) //nolint:staticcheck // reference implementation
	got := append([]byte(nil), plain...)
	CFB128(blk, &iv, got, false)
	if !bytes.Equal(got, want) {
		t.Fatalf("CFB128 encrypt differs")
	}
	CFB128(blk, &iv, got, true)
	if !bytes.Equal(got, plain) {
		t.Fatalf("CFB128 decrypt differs")
	}
	// Key extension: MD5 localizes to 16 bytes; AES-256 needs Kul ‖ H(Kul).
	kul, _ := AuthMD5.PasswordToKey("priv-password", []byte("engine"))
	h := md5.Sum(kul)
	if ext := ExtendKey(AuthMD5, kul, 32); !bytes.Equal(ext, append(append([]byte{}, kul...), h[:]...)) {
		t.Fatalf("extension %x", ext)
	}
	if ext := ExtendKey(AuthSHA512, make([]byte, 64), 16); len(ext) != 16 {
		t.Fatalf("truncation %d", len(ext))
	}
	pk, err := NewPrivKey(AuthSHA, PrivAES256, "priv-password", []byte("engine"))
	if err != nil {
		t.Fatal(err)
	}
	data := append([]byte(nil), plain...)
	pk.Encrypt(iv, data)
	pk.Decrypt(iv, data)
	if !bytes.Equal(data, plain) || pk.Protocol() != PrivAES256 {
		t.Fatal("priv key round trip")
	}
}

func TestEncoderReader(t *testing.T) {
	var e Encoder
	s := e.Open(TagSequence)
	for _, v := range []int64{0, 1, -1, 127, 128, -128, -129, 1 << 31, -(1 << 31), 1<<63 - 1} {
		e.Int(TagInteger, v)
	}
	e.Uint(TagCounter32, 0xffffffff)
	e.String(strings.Repeat("x", 300)) // forces a long-form length on the sequence
	e.Null()
	e.Close(s)
	body, rest, ok := Expect(e.B, TagSequence)
	if !ok || len(rest) != 0 {
		t.Fatalf("sequence: %x", e.B[:8])
	}
	for _, want := range []int64{0, 1, -1, 127, 128, -128, -129, 1 << 31, -(1 << 31), 1<<63 - 1} {
		var n int64
		n, _, body, ok = ExpectInt(body, -1<<63, 1<<63-1)
		if !ok || n != want {
			t.Fatalf("int %d: %d %v", want, n, ok)
		}
	}
	v, body, ok := Expect(body, TagCounter32)
	if u, ok2 := ParseUint32(v); !ok || !ok2 || u != 0xffffffff {
		t.Fatalf("counter: %x", v)
	}
	v, body, ok = Expect(body, TagOctetString)
	if !ok || len(v) != 300 {
		t.Fatal("string")
	}
	if _, body, ok = Expect(body, TagNull); !ok || len(body) != 0 {
		t.Fatal("null")
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x05, 1}, {0x1f, 0}, {0x30, 0x84, 0, 0, 0, 1, 0}, {0x30, 0x80}, {0x30, 0x82, 1}} {
		if _, _, _, ok := ReadTLV(bad); ok {
			t.Errorf("accepted %x", bad)
		}
	}
	for _, bad := range [][]byte{{}, {0x80}, {1, 2, 3, 4, 5, 6}, {0, 1, 0, 0, 0, 0}} {
		if _, ok := ParseUint32(bad); ok {
			t.Errorf("uint32 accepted %x", bad)
		}
	}
	if _, ok := ParseInt(make([]byte, 9)); ok {
		t.Error("9-byte int accepted")
	}
}

func TestOID(t *testing.T) {
	for _, s := range []string{".1.3.6.1.4.1.96.255.1", ".1.3.6.1.6.3.15.1.1.4.0", ".2.999.4294967295", ".0.39"} {
		b, err := EncodeOID(s)
		if err != nil || !ValidOID(b) || FormatOID(b) != s {
			t.Errorf("%s: %x %v %q", s, b, err, FormatOID(b))
		}
	}
	load, _ := EncodeOID("1.3.6.1.4.1.96.255.1")
	if !bytes.Equal(load, []byte{0x2b, 6, 1, 4, 1, 0x60, 0x81, 0x7f, 1}) {
		t.Errorf("load OID %x", load)
	}
	for _, s := range []string{"", "1", "3.1", "1.40", "1.3.x", "1.3.4294967296"} {
		if _, err := EncodeOID(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if ValidOID([]byte{0x2b, 0x80, 1}) || ValidOID([]byte{0x2b, 0x81}) || ValidOID(nil) || FormatOID(nil) != "(invalid OID)" {
		t.Error("invalid OIDs")
	}
	a, _ := EncodeOID("1.3.6.1.2")
	b, _ := EncodeOID("1.3.6.1.10")
	if CompareOID(a, b) != -1 || CompareOID(b, a) != 1 || CompareOID(a, a) != 0 || CompareOID(a, a[:3]) != 1 {
		t.Error("compare")
	}
	if ReportName(OIDWrongDigests) != "usmStatsWrongDigests" || ReportName(load) != ".1.3.6.1.4.1.96.255.1" {
		t.Error("report names")
	}
}

// FuzzReadTLV walks arbitrary input as nested TLVs: no panic, and every
// value lies within its input.
func FuzzReadTLV(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x30, 0x82, 0x00, 0x03, 0x04, 0x01, 'x'})
	f.Add([]byte{0x06, 0x09, 0x2b, 6, 1, 4, 1, 0x60, 0x81, 0x7f, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var walk func(b []byte, depth int)
		walk = func(b []byte, depth int) {
			for len(b) > 0 && depth < 16 {
				tag, v, rest, ok := ReadTLV(b)
				if !ok {
					return
				}
				if len(v)+len(rest) > len(b) {
					t.Fatalf("value outside input")
				}
				switch {
				case tag&0x20 != 0:
					walk(v, depth+1)
				case tag == TagOID:
					if ValidOID(v) {
						FormatOID(v)
					}
				default:
					ParseInt(v)
					ParseUint32(v)
				}
				b = rest
			}
		}
		walk(b, 0)
	})
}
