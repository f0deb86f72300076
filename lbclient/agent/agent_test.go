package agent

import (
	"context"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

const testPass = "secret-password"

var testEngine = EngineIDFor("test-host")

func testUsers() []User {
	return []User{
		{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: testPass},
		{Name: "shauser", AuthProtocol: "sha", AuthPassword: testPass},
		{Name: "sha256user", AuthProtocol: "sha256", AuthPassword: testPass},
		{Name: "sha512user", AuthProtocol: "sha512", AuthPassword: testPass},
		{Name: "privuser", AuthProtocol: "sha", AuthPassword: testPass, PrivProtocol: "aes", PrivPassword: "priv-password"},
		{Name: "priv256", AuthProtocol: "sha256", AuthPassword: testPass, PrivProtocol: "aes256", PrivPassword: "priv-password"},
		{Name: "md5aes256", AuthProtocol: "md5", AuthPassword: testPass, PrivProtocol: "aes256", PrivPassword: "priv-password"},
	}
}

// newTest builds a responder whose value is read from v.
func newTest(t testing.TB, v *atomic.Pointer[Value], now func() time.Time) *Responder {
	t.Helper()
	r, err := New(Config{Community: "public", Users: testUsers(), EngineID: testEngine, Boots: 7},
		func() Value { return *v.Load() }, now)
	require.NoError(t, err)
	return r
}

// serve runs r on a fresh 127.0.0.1 socket and returns its port.
func serve(t *testing.T, r *Responder) uint16 {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		conn.Close()
	})
	return uint16(conn.LocalAddr().(*net.UDPAddr).Port)
}

func client(t *testing.T, port uint16, sp *gosnmp.UsmSecurityParameters, flags gosnmp.SnmpV3MsgFlags) *gosnmp.GoSNMP {
	t.Helper()
	g := &gosnmp.GoSNMP{
		Target: "127.0.0.1", Port: port, Transport: "udp",
		Timeout: 700 * time.Millisecond, Retries: 0, MaxOids: 10,
		Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0)),
	}
	if sp == nil {
		g.Version, g.Community = gosnmp.Version2c, "public"
	} else {
		g.Version, g.SecurityModel, g.MsgFlags, g.SecurityParameters = gosnmp.Version3, gosnmp.UserSecurityModel, flags, sp
	}
	require.NoError(t, g.Connect())
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

func val(v Value) *atomic.Pointer[Value] {
	p := &atomic.Pointer[Value]{}
	p.Store(&v)
	return p
}

func TestV2c(t *testing.T) {
	v := val(Value{Int: 50000})
	r := newTest(t, v, nil)
	port := serve(t, r)
	g := client(t, port, nil, 0)

	res, err := g.Get([]string{OID})
	require.NoError(t, err)
	assert.Equal(t, 1, len(res.Variables))
	assert.Equal(t, OID, res.Variables[0].Name)
	assert.Equal(t, gosnmp.Integer, res.Variables[0].Type)
	assert.Equal(t, 50000, res.Variables[0].Value)

	v.Store(&Value{IsString: true, Str: "a.example=50,b.example=-1"})
	res, err = g.Get([]string{OID})
	require.NoError(t, err)
	assert.Equal(t, gosnmp.OctetString, res.Variables[0].Type)
	assert.Equal(t, []byte("a.example=50,b.example=-1"), res.Variables[0].Value)

	// other OIDs
	res, err = g.Get([]string{OID + ".0", ".1.3.6.1.2.1.1.1.0"})
	require.NoError(t, err)
	assert.Equal(t, gosnmp.NoSuchInstance, res.Variables[0].Type)
	assert.Equal(t, gosnmp.NoSuchObject, res.Variables[1].Type)

	// GETNEXT
	res, err = g.GetNext([]string{".1.3.6.1.4.1.96"})
	require.NoError(t, err)
	assert.Equal(t, OID, res.Variables[0].Name)
	res, err = g.GetNext([]string{OID})
	require.NoError(t, err)
	assert.Equal(t, gosnmp.EndOfMibView, res.Variables[0].Type)

	// GETBULK (snmpwalk): one repetition
	res, err = g.GetBulk([]string{".1.3.6.1.4.1.96.255"}, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, 1, len(res.Variables))
	assert.Equal(t, OID, res.Variables[0].Name)

	// wrong community: silence
	g2 := client(t, port, nil, 0)
	g2.Community = "private"
	_, err = g2.Get([]string{OID})
	require.Error(t, err, "want an error")
}

func TestV3(t *testing.T) {
	v := val(Value{IsString: true, Str: "a.example=50,b.example=-1"})
	r := newTest(t, v, nil)
	port := serve(t, r)
	cases := []struct {
		user  string
		auth  gosnmp.SnmpV3AuthProtocol
		priv  gosnmp.SnmpV3PrivProtocol
		flags gosnmp.SnmpV3MsgFlags
	}{
		{"loadbalancing", gosnmp.MD5, gosnmp.NoPriv, gosnmp.AuthNoPriv},
		{"shauser", gosnmp.SHA, gosnmp.NoPriv, gosnmp.AuthNoPriv},
		{"sha256user", gosnmp.SHA256, gosnmp.NoPriv, gosnmp.AuthNoPriv},
		{"sha512user", gosnmp.SHA512, gosnmp.NoPriv, gosnmp.AuthNoPriv},
		{"privuser", gosnmp.SHA, gosnmp.AES, gosnmp.AuthPriv},
		{"privuser", gosnmp.SHA, gosnmp.NoPriv, gosnmp.AuthNoPriv}, // priv user at auth level
		{"priv256", gosnmp.SHA256, gosnmp.AES256, gosnmp.AuthPriv},
		{"md5aes256", gosnmp.MD5, gosnmp.AES256, gosnmp.AuthPriv},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%v/%v", c.user, c.auth, c.priv), func(t *testing.T) {
			sp := &gosnmp.UsmSecurityParameters{UserName: c.user, AuthenticationProtocol: c.auth,
				AuthenticationPassphrase: testPass, PrivacyProtocol: c.priv, PrivacyPassphrase: "priv-password"}
			g := client(t, port, sp, c.flags)
			for i := 0; i < 2; i++ { // second GET reuses the discovered engine
				res, err := g.Get([]string{OID})
				require.NoError(t, err)
				assert.Equal(t, 1, len(res.Variables))
				assert.Equal(t, OID, res.Variables[0].Name)
				assert.Equal(t, []byte("a.example=50,b.example=-1"), res.Variables[0].Value)
				usm := res.SecurityParameters.(*gosnmp.UsmSecurityParameters)
				assert.Equal(t, string(testEngine), usm.AuthoritativeEngineID)
				assert.Equal(t, uint32(7), usm.AuthoritativeEngineBoots)
			}
		})
	}
}

func TestV3Errors(t *testing.T) {
	r := newTest(t, val(Value{Int: 1}), nil)
	port := serve(t, r)
	get := func(sp *gosnmp.UsmSecurityParameters, flags gosnmp.SnmpV3MsgFlags) error {
		_, err := client(t, port, sp, flags).Get([]string{OID})
		return err
	}
	// gosnmp (>= 1.4x) discards the unauthenticated Report that follows
	// discovery at an auth level ("not authentic"), so the Report itself is
	// checked in TestHandleReports; here: the client fails and the counter
	// moves.
	st := r.Stats()
	err := get(&gosnmp.UsmSecurityParameters{UserName: "loadbalancing", AuthenticationProtocol: gosnmp.MD5,
		AuthenticationPassphrase: "wrong-password"}, gosnmp.AuthNoPriv)
	require.Error(t, err, "wrong password")
	assert.Equal(t, uint32(1), st.WrongDigests.Load())

	err = get(&gosnmp.UsmSecurityParameters{UserName: "nobody", AuthenticationProtocol: gosnmp.MD5,
		AuthenticationPassphrase: testPass}, gosnmp.AuthNoPriv)
	require.Error(t, err, "unknown user")
	assert.Equal(t, uint32(1), st.UnknownUserNames.Load())

	// noAuthNoPriv: the Report is at the requested level, gosnmp reads it
	err = get(&gosnmp.UsmSecurityParameters{UserName: "loadbalancing"}, gosnmp.NoAuthNoPriv)
	assert.ErrorIs(t, err, gosnmp.ErrUnknownSecurityLevel)

	err = get(&gosnmp.UsmSecurityParameters{UserName: "loadbalancing", AuthenticationProtocol: gosnmp.MD5,
		AuthenticationPassphrase: testPass, PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: "priv-password"}, gosnmp.AuthPriv)
	require.Error(t, err, "authPriv for an auth-only user")
	assert.Equal(t, uint32(2), st.UnsupportedSecLevels.Load())

	// wrong auth protocol for the user: the digest length differs → wrong digest
	err = get(&gosnmp.UsmSecurityParameters{UserName: "loadbalancing", AuthenticationProtocol: gosnmp.SHA256,
		AuthenticationPassphrase: testPass}, gosnmp.AuthNoPriv)
	require.Error(t, err, "wrong protocol")
	assert.Equal(t, uint32(2), st.WrongDigests.Load())
	assert.Equal(t, uint32(5), st.UnknownEngineIDs.Load()) // one discovery per client
}

// v3Get builds an SNMPv3 GET for OID with the given USM header values.
func v3Get(t testing.TB, user string, auth gosnmp.SnmpV3AuthProtocol, pass string, engineID []byte, boots, etime uint32, flags gosnmp.SnmpV3MsgFlags, reqID uint32) []byte {
	t.Helper()
	sp := &gosnmp.UsmSecurityParameters{UserName: user, AuthenticationProtocol: auth, AuthenticationPassphrase: pass,
		PrivacyProtocol: gosnmp.NoPriv, AuthoritativeEngineID: string(engineID),
		AuthoritativeEngineBoots: boots, AuthoritativeEngineTime: etime,
		Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	if auth == 0 {
		sp.AuthenticationProtocol = gosnmp.NoAuth
	}
	require.NoError(t, sp.InitSecurityKeys())
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version3, MsgFlags: flags, SecurityModel: gosnmp.UserSecurityModel,
		SecurityParameters: sp, PDUType: gosnmp.GetRequest, MsgID: 4242, RequestID: reqID, MsgMaxSize: 65507,
		ContextEngineID: string(engineID), Variables: []gosnmp.SnmpPDU{{Name: OID, Type: gosnmp.Null}}}
	b, err := p.MarshalMsg()
	require.NoError(t, err)
	return b
}

func discovery(t testing.TB) []byte {
	t.Helper()
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version3, MsgFlags: gosnmp.Reportable | gosnmp.NoAuthNoPriv,
		SecurityModel: gosnmp.UserSecurityModel, SecurityParameters: &gosnmp.UsmSecurityParameters{},
		PDUType: gosnmp.GetRequest, MsgID: 99, RequestID: 77, MsgMaxSize: 65500}
	b, err := p.MarshalMsg()
	require.NoError(t, err)
	return b
}

func v2cGet(t testing.TB, oids ...string) []byte {
	t.Helper()
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.GetRequest, RequestID: 5}
	for _, o := range oids {
		p.Variables = append(p.Variables, gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null})
	}
	b, err := p.MarshalMsg()
	require.NoError(t, err)
	return b
}

// decoder decodes replies of a responder whose users are testUsers (md5).
func decode(t testing.TB, b []byte) (*gosnmp.SnmpPacket, error) {
	t.Helper()
	g := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
	if len(b) > 4 && b[4] == 3 || len(b) > 5 && b[5] == 3 {
		g.Version, g.SecurityModel = gosnmp.Version3, gosnmp.UserSecurityModel
		g.SecurityParameters = md5Decoder(t)
	}
	return g.SnmpDecodePacket(append([]byte(nil), b...)) // decoding zeroes the MAC in place
}

var md5Params *gosnmp.UsmSecurityParameters

func md5Decoder(t testing.TB) *gosnmp.UsmSecurityParameters {
	if md5Params == nil {
		md5Params = &gosnmp.UsmSecurityParameters{UserName: "loadbalancing", AuthenticationProtocol: gosnmp.MD5,
			AuthenticationPassphrase: testPass, PrivacyProtocol: gosnmp.NoPriv, AuthoritativeEngineID: string(testEngine),
			Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0))}
		require.NoError(t, md5Params.InitSecurityKeys())
	}
	return md5Params
}

func TestHandleReports(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	r := newTest(t, val(Value{Int: 42}), clock)
	now = now.Add(1000 * time.Second) // engine time 1000

	// discovery → Report usmStatsUnknownEngineIDs with our engine/boots/time
	reply, ok := r.Handle(discovery(t))
	require.True(t, ok)
	p, err := decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, gosnmp.Report, p.PDUType)
	assert.Equal(t, uint32(99), p.MsgID)
	assert.Equal(t, uint32(77), p.RequestID)
	assert.Equal(t, ".1.3.6.1.6.3.15.1.1.4.0", p.Variables[0].Name)
	usm := p.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	assert.Equal(t, string(testEngine), usm.AuthoritativeEngineID)
	assert.Equal(t, uint32(7), usm.AuthoritativeEngineBoots)
	assert.Equal(t, uint32(1000), usm.AuthoritativeEngineTime)
	assert.Equal(t, gosnmp.NoAuthNoPriv, p.MsgFlags)

	// a valid GET → GetResponse, signed, ids echoed, HMAC verifiable with crypto/hmac
	req := v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 1000, gosnmp.AuthNoPriv|gosnmp.Reportable, 31337)
	reply, ok = r.Handle(req)
	require.True(t, ok)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, gosnmp.GetResponse, p.PDUType)
	assert.Equal(t, uint32(4242), p.MsgID)
	assert.Equal(t, uint32(31337), p.RequestID)
	assert.Equal(t, gosnmp.AuthNoPriv, p.MsgFlags)
	assert.Equal(t, 42, p.Variables[0].Value)
	checkHMAC(t, reply, md5Decoder(t).SecretKey)

	// time window: 151 s off → signed notInTimeWindows report; 150 s is fine
	req = v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 1151, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	reply, ok = r.Handle(req)
	require.True(t, ok)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, ".1.3.6.1.6.3.15.1.1.2.0", p.Variables[0].Name)
	assert.Equal(t, gosnmp.AuthNoPriv, p.MsgFlags)
	checkHMAC(t, reply, md5Decoder(t).SecretKey)
	req = v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 850, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	reply, _ = r.Handle(req)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, gosnmp.GetResponse, p.PDUType)
	// wrong boots
	req = v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 6, 1000, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	reply, _ = r.Handle(req)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, ".1.3.6.1.6.3.15.1.1.2.0", p.Variables[0].Name)

	// not reportable → errors are silent
	req = v3Get(t, "loadbalancing", gosnmp.MD5, "bad-password", testEngine, 7, 1000, gosnmp.AuthNoPriv, 1)
	_, ok = r.Handle(req)
	require.False(t, ok, "want no reply")
	req = v3Get(t, "loadbalancing", gosnmp.MD5, "bad-password", testEngine, 7, 1000, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	reply, ok = r.Handle(req)
	require.True(t, ok)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, ".1.3.6.1.6.3.15.1.1.5.0", p.Variables[0].Name)

	// a tampered message fails the digest
	req = v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 1000, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	req[len(req)-3] ^= 1
	reply, ok = r.Handle(req)
	require.True(t, ok)
	p, err = decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, ".1.3.6.1.6.3.15.1.1.5.0", p.Variables[0].Name)

	// garbage
	for _, g := range [][]byte{nil, {0x30}, {0x30, 0x00}, {0x30, 0x80, 0, 0}, []byte("hello world")} {
		_, ok := r.Handle(g)
		require.False(t, ok, "want no reply")
	}
}

// checkHMAC verifies a reply's HMAC-MD5-96 independently with crypto/hmac.
func checkHMAC(t *testing.T, msg, key []byte) {
	t.Helper()
	p, err := decode(t, append([]byte(nil), msg...)) // decoding zeroes the MAC in place
	require.NoError(t, err)
	mac := []byte(p.SecurityParameters.(*gosnmp.UsmSecurityParameters).AuthenticationParameters)
	assert.Equal(t, 12, len(mac))
	i := strings.Index(string(msg), string(mac))
	require.GreaterOrEqual(t, i, 0)
	zeroed := append([]byte(nil), msg...)
	copy(zeroed[i:], make([]byte, 12))
	h := hmac.New(md5.New, key)
	h.Write(zeroed)
	assert.Equal(t, mac, h.Sum(nil)[:12])
}

func TestTooBig(t *testing.T) {
	r := newTest(t, val(Value{IsString: true, Str: strings.Repeat("x", 20000)}), nil)
	reply, ok := r.Handle(v2cGet(t, OID))
	require.True(t, ok)
	require.LessOrEqual(t, len(reply), MaxMessage)
	p, err := decode(t, reply)
	require.NoError(t, err)
	assert.Equal(t, gosnmp.TooBig, p.Error)
	assert.Equal(t, 0, len(p.Variables))
}

func TestNewValidation(t *testing.T) {
	vf := func() Value { return Value{} }
	for name, c := range map[string]Config{
		"nothing":    {EngineID: testEngine},
		"short id":   {Community: "x", EngineID: []byte{1, 2}},
		"bad auth":   {EngineID: testEngine, Users: []User{{Name: "u", AuthProtocol: "sha1024", AuthPassword: testPass}}},
		"short pass": {EngineID: testEngine, Users: []User{{Name: "u", AuthProtocol: "md5", AuthPassword: "short"}}},
		"bad priv":   {EngineID: testEngine, Users: []User{{Name: "u", AuthProtocol: "md5", AuthPassword: testPass, PrivProtocol: "des", PrivPassword: testPass}}},
		"no name":    {EngineID: testEngine, Users: []User{{AuthProtocol: "md5", AuthPassword: testPass}}},
		"duplicate": {EngineID: testEngine, Users: []User{{Name: "u", AuthProtocol: "md5", AuthPassword: testPass},
			{Name: "u", AuthProtocol: "md5", AuthPassword: testPass}}},
	} {
		_, err := New(c, vf, nil)
		require.Error(t, err, name)
	}
}

func TestEngineIDFor(t *testing.T) {
	a, b := EngineIDFor("host1"), EngineIDFor("host2")
	assert.Equal(t, 13, len(a))
	assert.Equal(t, a, EngineIDFor("host1"))
	assert.NotEqual(t, a, b)
	assert.Equal(t, byte(0x80), a[0])
}

func TestOIDOrder(t *testing.T) {
	enc := func(s string) []byte {
		p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, PDUType: gosnmp.GetRequest,
			Variables: []gosnmp.SnmpPDU{{Name: s, Type: gosnmp.Null}}}
		b, err := p.MarshalMsg()
		require.NoError(t, err)
		q, ok := parseV2cOID(b)
		require.True(t, ok, s)
		return q
	}
	assert.Equal(t, oidBytes, enc(OID))
	for _, c := range []struct {
		a, b string
		want int
	}{
		{".1.3.6.1.4.1.96.255.1", OID, 0},
		{".1.3.6.1.4.1.96.255", OID, -1},
		{".1.3.6.1.4.1.96.255.1.0", OID, 1},
		{".1.3.6.1.4.1.96.254.99999", OID, -1},
		{".1.3.6.1.4.1.96.16384", ".1.3.6.1.4.1.96.16383", 1},
		{".1.3.6.1.4.1.96.127", ".1.3.6.1.4.1.96.128", -1},
		{".2.5", ".1.3.6", 1},
	} {
		assert.Equal(t, c.want, snmpwire.CompareOID(enc(c.a), enc(c.b)), "%s vs %s", c.a, c.b)
	}
}

// parseV2cOID extracts the first varbind OID of a v2c message.
func parseV2cOID(b []byte) ([]byte, bool) {
	m, err := snmpwire.ParseV2c(b)
	if err != nil {
		return nil, false
	}
	p, err := snmpwire.ParsePDU(m.PDU)
	if err != nil {
		return nil, false
	}
	vb, _, err := snmpwire.NextVarBind(p.VarBinds)
	return vb.Name, err == nil
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := newTest(t, val(Value{IsString: true, Str: "a.example=50,b.example=-1"}), nil)
	req := v3Get(t, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 0, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	dst := make([]byte, 0, MaxMessage)
	_, ok := r.HandleAppend(dst, req)
	require.True(t, ok)
	n := testing.AllocsPerRun(200, func() { r.HandleAppend(dst[:0], req) })
	require.Zero(t, n, "allocations per authNoPriv GET")
}

func BenchmarkHandleV3(b *testing.B) {
	r := newTest(b, val(Value{IsString: true, Str: "a.example=50,b.example=-1"}), nil)
	req := v3Get(b, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 0, gosnmp.AuthNoPriv|gosnmp.Reportable, 1)
	dst := make([]byte, 0, MaxMessage)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.HandleAppend(dst[:0], req); !ok {
			b.Fatal("no reply")
		}
	}
}

func FuzzHandle(f *testing.F) {
	f.Add(v2cGet(f, OID))
	f.Add(v2cGet(f, ".1.3.6.1.2.1.1.1.0", OID+".0"))
	f.Add(discovery(f))
	f.Add(v3Get(f, "loadbalancing", gosnmp.MD5, testPass, testEngine, 7, 0, gosnmp.AuthNoPriv|gosnmp.Reportable, 1))
	f.Add(v3Get(f, "loadbalancing", gosnmp.MD5, "bad-password", testEngine, 7, 0, gosnmp.AuthNoPriv|gosnmp.Reportable, 1))
	f.Add(v3Get(f, "nobody", gosnmp.MD5, testPass, testEngine, 7, 0, gosnmp.AuthNoPriv|gosnmp.Reportable, 1))
	r := newTest(f, val(Value{IsString: true, Str: "a.example=50,b.example=-1"}), nil)
	md5Decoder(f)
	f.Fuzz(func(t *testing.T, req []byte) {
		orig := append([]byte(nil), req...)
		reply, ok := r.Handle(req)
		if string(orig) != string(req) {
			t.Fatal("Handle modified the request")
		}
		if !ok {
			return
		}
		if len(reply) > MaxMessage {
			t.Fatalf("reply of %d bytes", len(reply))
		}
		if _, err := decode(t, reply); err != nil {
			t.Fatalf("undecodable reply %x to %x: %v", reply, req, err)
		}
	})
}
