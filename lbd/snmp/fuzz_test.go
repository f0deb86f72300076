package snmp

import (
	"testing"
	"time"

	"github.com/lbd-project/lbd/internal/snmpwire"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/stretchr/testify/require"
)

// fuzzEngines are the engines FuzzDecodeResponse checks replies against:
// MD5 authNoPriv and SHA + AES.
func fuzzEngines(tb testing.TB) (md5cfg, aescfg clientConfig, md5eng, aeseng engine) {
	id := agent.EngineIDFor("fuzz")
	md5cfg = clientConfig{v3: true, user: "loadbalancing", auth: snmpwire.AuthMD5, authPassword: testPassword}
	aescfg = clientConfig{v3: true, user: "privuser", auth: snmpwire.AuthSHA, authPassword: testPassword,
		priv: snmpwire.PrivAES, privPassword: "priv-password"}
	c := &snmpClient{}
	var err error
	now := time.Unix(1e9, 0)
	c.cfg = md5cfg
	if md5eng, err = c.withKeys(engine{id: id, boots: 1, time: 0, at: now, confirmed: now}, nil); err != nil {
		tb.Fatal(err)
	}
	c.cfg = aescfg
	if aeseng, err = c.withKeys(engine{id: id, boots: 1, time: 0, at: now, confirmed: now}, nil); err != nil {
		tb.Fatal(err)
	}
	return
}

// FuzzDecodeResponse feeds arbitrary datagrams to every reply parser
// (demultiplexing, v2c, discovery, v3 GET with and without privacy): no
// panic (D5), and no value from anything that is not authenticated.
func FuzzDecodeResponse(f *testing.F) {
	md5cfg, aescfg, md5eng, aeseng := fuzzEngines(f)
	const msgID, reqID = 1001, 2002
	now := time.Unix(1e9, 0)
	// Seeds: replies a real agent gives to our own requests ...
	r, err := agent.New(agent.Config{Community: "public", EngineID: md5eng.id, Boots: 1, Users: []agent.User{
		{Name: "loadbalancing", AuthProtocol: "md5", AuthPassword: testPassword},
		{Name: "privuser", AuthProtocol: "sha", AuthPassword: testPassword, PrivProtocol: "aes", PrivPassword: "priv-password"}}},
		func() agent.Value { return agent.Value{IsString: true, Str: "a.example=5,b.example=-7"} }, nil)
	if err != nil {
		f.Fatal(err)
	}
	var e snmpwire.Encoder
	writeDiscovery(&e, msgID, reqID)
	if out, ok := r.Handle(e.B); ok {
		f.Add(append([]byte(nil), out...))
	}
	for _, c := range []struct {
		cfg *clientConfig
		eng *engine
	}{{&md5cfg, &md5eng}, {&aescfg, &aeseng}} {
		e.B = e.B[:0]
		// The agent's engine time starts at 0: at 1000 we get a signed
		// notInTimeWindows report, at 0 the response.
		writeGetV3(&e, c.cfg, c.eng, msgID, reqID, 1000, 7)
		out, ok := r.Handle(e.B)
		if k := checkV3Reply(append([]byte(nil), out...), c.cfg, c.eng, msgID, reqID, 0, now); !ok || k.kind != replyResync {
			f.Fatalf("%s: agent's time window report: %+v", c.cfg.user, k)
		}
		f.Add(append([]byte(nil), out...))
		e.B = e.B[:0]
		writeGetV3(&e, c.cfg, c.eng, msgID, reqID, 0, 8)
		out, ok = r.Handle(e.B)
		if k := checkV3Reply(append([]byte(nil), out...), c.cfg, c.eng, msgID, reqID, 0, now); !ok || k.kind != replyValue || k.value.Str != "a.example=5,b.example=-7" {
			f.Fatalf("%s: agent's response: %+v", c.cfg.user, k)
		}
		f.Add(append([]byte(nil), out...))
	}
	e.B = e.B[:0]
	m := e.Open(snmpwire.TagSequence)
	e.Int(snmpwire.TagInteger, snmpwire.Version2c)
	e.String("public")
	writeGetPDU(&e, reqID, true)
	e.Close(m)
	if out, ok := r.Handle(e.B); ok {
		f.Add(append([]byte(nil), out...))
	}
	// ... and crafted ones: good, report, odd values, truncated.
	good := reply{msgID: msgID, reqID: reqID, flags: snmpwire.FlagAuth, engineID: md5eng.id, boots: 1, time: 0,
		user: "loadbalancing", key: md5eng.auth, valTag: snmpwire.TagInteger, val: []byte{42}}
	rep := good
	rep.flags, rep.pduType, rep.reportOID = 0, snmpwire.PDUReport, snmpwire.OIDUnknownEngineIDs
	gauge := good
	gauge.valTag, gauge.val = snmpwire.TagGauge32, []byte{0, 0xff, 0xff, 0xff, 0xff}
	for _, x := range [][]byte{good.encode(), rep.encode(), gauge.encode(), good.encode()[:40], {0x30, 0x82, 0xff, 0xff}, {}} {
		f.Add(x)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		demuxID(b)
		checkV2cReply(b, "public", reqID)
		checkDiscoveryReply(b, msgID)
		for _, c := range []struct {
			cfg *clientConfig
			eng *engine
		}{{&md5cfg, &md5eng}, {&aescfg, &aeseng}} {
			cp := append([]byte(nil), b...)
			out := checkV3Reply(cp, c.cfg, c.eng, msgID, reqID, snmpwire.FlagAuth|snmpwire.FlagReportable, now)
			if out.kind == replyValue {
				m, err := snmpwire.ParseV3(b)
				require.NoError(t, err)
				require.True(t, m.Authenticated() && m.VerifyAuth(b, c.eng.auth), "value %+v from an unauthenticated message", out.value)
			}
			if out.kind == replyResync {
				require.NotEmpty(t, out.engineID, "resync without an engine ID")
			}
		}
	})
}
