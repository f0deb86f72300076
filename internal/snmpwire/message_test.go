package snmpwire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testEngineID = []byte{0x80, 0, 0, 0x60, 5, 1, 2, 3, 4, 5, 6, 7, 8}

// writeTestPDU writes a PDU of typ with one varbind name = INTEGER 42.
func writeTestPDU(e *Encoder, typ byte, reqID int64, name []byte) {
	p := e.Open(typ)
	e.Int(TagInteger, reqID)
	e.Int(TagInteger, 0)
	e.Int(TagInteger, 0)
	l := e.Open(TagSequence)
	v := e.Open(TagSequence)
	e.Raw(TagOID, name)
	e.Int(TagInteger, 42)
	e.Close(v)
	e.Close(l)
	e.Close(p)
}

// v3Message writes an SNMPv3 GetRequest with header h.
func v3Message(h *V3Header) []byte {
	var e Encoder
	w := e.BeginV3(h)
	e.Raw(TagOctetString, h.EngineID)
	e.String("ctx")
	writeTestPDU(&e, PDUGetRequest, 31337, OIDWrongDigests)
	e.EndV3(&w)
	return e.B
}

func TestV3RoundTrip(t *testing.T) {
	ak, err := LocalAuthKey(AuthSHA256, "auth-password", testEngineID)
	require.NoError(t, err)
	pk, err := NewPrivKey(AuthSHA256, PrivAES256, "priv-password", testEngineID)
	require.NoError(t, err)
	for _, flags := range []byte{FlagReportable, FlagAuth, FlagAuth | FlagPriv | FlagReportable} {
		h := &V3Header{MsgID: 4242, MaxSize: 65507, Flags: flags, EngineID: testEngineID, Boots: 7, Time: 1000,
			UserName: []byte("user"), Auth: ak, Priv: pk, Salt: SaltFrom(99)}
		b := v3Message(h)
		m, err := ParseV3(b)
		require.NoError(t, err, "flags %x", flags)
		assert.Equal(t, int32(4242), m.MsgID)
		assert.Equal(t, int32(65507), m.MaxSize)
		assert.Equal(t, flags, m.Flags)
		assert.Equal(t, testEngineID, m.EngineID)
		assert.Equal(t, uint32(7), m.Boots)
		assert.Equal(t, uint32(1000), m.Time)
		assert.Equal(t, "user", string(m.UserName))
		assert.Equal(t, flags&FlagReportable != 0, m.Reportable())
		if m.Authenticated() {
			require.True(t, m.VerifyAuth(b, ak), "flags %x: HMAC", flags)
			other, _ := LocalAuthKey(AuthSHA256, "other-password", testEngineID)
			require.False(t, m.VerifyAuth(b, other))
		} else {
			assert.Empty(t, m.AuthParams)
		}
		scoped := m.Data
		if m.Encrypted() {
			assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 99}, m.PrivParams)
			scoped, err = m.DecryptScopedPDU(pk)
			require.NoError(t, err)
		}
		s, err := ParseScopedPDU(scoped)
		require.NoError(t, err)
		assert.Equal(t, testEngineID, s.ContextEngineID)
		assert.Equal(t, "ctx", string(s.ContextName))
		assert.Equal(t, byte(PDUGetRequest), s.PDU.Type)
		assert.Equal(t, int32(31337), s.PDU.RequestID)
		vb, rest, err := NextVarBind(s.PDU.VarBinds)
		require.NoError(t, err)
		assert.Empty(t, rest)
		assert.Equal(t, OIDWrongDigests, vb.Name)
		assert.Equal(t, byte(TagInteger), vb.Tag)
		assert.Equal(t, []byte{42}, vb.Value)
	}

	// a long msgID echoed raw, and a long message (long-form lengths)
	h := &V3Header{RawMsgID: []byte{0, 0x80}, MaxSize: 484, EngineID: testEngineID, UserName: make([]byte, 32)}
	var e Encoder
	w := e.BeginV3(h)
	e.Raw(TagOctetString, make([]byte, 300))
	e.Raw(TagOctetString, nil)
	writeTestPDU(&e, PDUReport, 0, OIDWrongDigests)
	e.EndV3(&w)
	m, err := ParseV3(e.B)
	require.NoError(t, err)
	assert.Equal(t, int32(128), m.MsgID)
	assert.Equal(t, []byte{0, 0x80}, m.RawMsgID)
	s, err := ParseScopedPDU(m.Data)
	require.NoError(t, err)
	assert.Len(t, s.ContextEngineID, 300)
}

func TestV3Rejects(t *testing.T) {
	good := &V3Header{MsgID: 1, MaxSize: 65507, Flags: FlagReportable, EngineID: testEngineID}
	variant := func(f func(h *V3Header)) []byte {
		h := *good
		f(&h)
		return v3Message(&h)
	}
	ak, _ := LocalAuthKey(AuthMD5, "auth-password", testEngineID)
	cases := map[string][]byte{
		"max size below 484":   variant(func(h *V3Header) { h.MaxSize = 483 }),
		"engine ID > 32 bytes": variant(func(h *V3Header) { h.EngineID = make([]byte, 33) }),
		"user name > 32 bytes": variant(func(h *V3Header) { h.UserName = make([]byte, 33) }),
		"boots < 0":            variant(func(h *V3Header) { h.Boots = 1 << 31 }),
		"msgID < 0":            variant(func(h *V3Header) { h.MsgID = -1 }),
	}
	b := variant(func(h *V3Header) { h.Flags = FlagAuth; h.Auth = ak })
	cases["truncated"] = b[:len(b)-1]
	cases["trailing byte"] = append(append([]byte(nil), b...), 0)
	for name, b := range cases {
		_, err := ParseV3(b)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
	// priv flag without auth, written by hand around a plaintext message
	plain := v3Message(good)
	i := Offset(plain, mustParseV3(t, plain).RawMsgID) + 1 + 5 // msgID content, msgMaxSize TLV (02 03 00 ff e3)
	require.Equal(t, []byte{TagOctetString, 1, FlagReportable}, plain[i:i+3])
	plain[i+2] = FlagPriv
	_, err := ParseV3(plain)
	assert.ErrorIs(t, err, ErrMalformed, "priv without auth")

	var e Encoder
	m := e.Open(TagSequence)
	e.Int(TagInteger, Version2c)
	e.String("public")
	writeTestPDU(&e, PDUGetRequest, 5, OIDWrongDigests)
	e.Close(m)
	_, err = ParseV3(e.B)
	assert.ErrorIs(t, err, ErrVersion)
	v, err := MessageVersion(e.B)
	require.NoError(t, err)
	assert.Equal(t, int64(Version2c), v)
	c, err := ParseV2c(e.B)
	require.NoError(t, err)
	assert.Equal(t, "public", string(c.Community))
	p, err := ParsePDU(c.PDU)
	require.NoError(t, err)
	assert.Equal(t, int32(5), p.RequestID)
	assert.Equal(t, []byte{5}, p.RawRequestID)
	_, err = ParseV2c(v3Message(good))
	assert.ErrorIs(t, err, ErrVersion)
	_, err = MessageVersion([]byte{0x30, 0})
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParsePDU(c.PDU[:len(c.PDU)-1])
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParsePDU([]byte{0x30, 0})
	assert.ErrorIs(t, err, ErrMalformed, "not a PDU tag")
}

func mustParseV3(t *testing.T, b []byte) V3Message {
	t.Helper()
	m, err := ParseV3(b)
	require.NoError(t, err)
	return m
}

func TestDecryptErrors(t *testing.T) {
	pk, err := NewPrivKey(AuthSHA, PrivAES, "priv-password", testEngineID)
	require.NoError(t, err)
	m := V3Message{Flags: FlagAuth | FlagPriv, PrivParams: []byte{1, 2, 3}, Data: []byte{1, 2, 3}}
	_, err = m.DecryptScopedPDU(pk)
	assert.ErrorIs(t, err, ErrDecrypt, "short salt")
	m.PrivParams = make([]byte, 8)
	_, err = m.DecryptScopedPDU(pk)
	assert.ErrorIs(t, err, ErrDecrypt, "garbage")
}

func TestVarBinds(t *testing.T) {
	var e Encoder
	v := e.Open(TagSequence)
	e.Raw(TagOID, OIDWrongDigests)
	e.Null()
	e.Close(v)
	one := append([]byte(nil), e.B...)
	noName := []byte{TagSequence, 2, TagNull, 0}
	badValue := []byte{TagSequence, 4, TagOID, 1, 0x2b, TagNull}
	badOID := []byte{TagSequence, 5, TagOID, 1, 0x80, TagNull, 0}

	n, err := CheckVarBinds(append(append([]byte(nil), one...), one...))
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = CheckVarBinds(nil)
	require.NoError(t, err)
	assert.Zero(t, n)

	_, rest, err := NextVarBind([]byte{TagInteger, 1, 0})
	assert.ErrorIs(t, err, ErrMalformed)
	assert.Nil(t, rest)
	_, rest, err = NextVarBind(append(append([]byte(nil), noName...), one...))
	assert.ErrorIs(t, err, ErrVarBind)
	assert.Equal(t, one, rest, "rest after a bad varbind")
	vb, _, err := NextVarBind(badValue)
	assert.ErrorIs(t, err, ErrVarBindValue)
	assert.Equal(t, []byte{0x2b}, vb.Name, "name of a varbind with a bad value")
	_, err = CheckVarBinds(append(append([]byte(nil), one...), badOID...))
	assert.ErrorIs(t, err, ErrVarBind, "invalid OID")
}

// FuzzParseMessage runs every parser over arbitrary input: no panic, every
// slice within the input, and a successful parse of a v3 message or a PDU
// re-checks consistently.
func FuzzParseMessage(f *testing.F) {
	ak, _ := LocalAuthKey(AuthMD5, "auth-password", testEngineID)
	pk, _ := NewPrivKey(AuthMD5, PrivAES, "priv-password", testEngineID)
	f.Add(v3Message(&V3Header{MsgID: 1, MaxSize: 65507, Flags: FlagReportable, EngineID: testEngineID}))
	f.Add(v3Message(&V3Header{MsgID: 2, MaxSize: 65507, Flags: FlagAuth | FlagPriv, EngineID: testEngineID,
		UserName: []byte("u"), Auth: ak, Priv: pk, Salt: SaltFrom(1)}))
	var e Encoder
	m := e.Open(TagSequence)
	e.Int(TagInteger, Version2c)
	e.String("public")
	writeTestPDU(&e, PDUTrapV2, 5, OIDWrongDigests)
	e.Close(m)
	f.Add(e.B)
	within := func(t *testing.T, in, sub []byte) {
		if len(sub) > 0 {
			off := Offset(in, sub)
			require.True(t, off >= 0 && off+len(sub) <= len(in), "slice outside the input")
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = MessageVersion(b)
		if c, err := ParseV2c(b); err == nil {
			within(t, b, c.Community)
			if p, err := ParsePDU(c.PDU); err == nil {
				within(t, b, p.VarBinds)
				_, _ = CheckVarBinds(p.VarBinds)
			}
		}
		m, err := ParseV3(b)
		if err != nil {
			return
		}
		for _, s := range [][]byte{m.RawMsgID, m.EngineID, m.UserName, m.AuthParams, m.PrivParams, m.Data} {
			within(t, b, s)
		}
		require.False(t, m.Encrypted() && !m.Authenticated(), "priv without auth accepted")
		m.VerifyAuth(b, ak)
		if m.Encrypted() {
			cp := m
			cp.Data = append([]byte(nil), m.Data...)
			if s, err := cp.DecryptScopedPDU(pk); err == nil {
				_, _ = ParseScopedPDU(s)
			}
			return
		}
		if s, err := ParseScopedPDU(m.Data); err == nil {
			within(t, b, s.PDU.VarBinds)
			for vbs := s.PDU.VarBinds; len(vbs) > 0; {
				vb, rest, err := NextVarBind(vbs)
				if err == ErrMalformed {
					break
				}
				within(t, b, vb.Name)
				within(t, b, vb.Value)
				require.Less(t, len(rest), len(vbs))
				vbs = rest
			}
		}
	})
}
