package tsig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const secret = "c2VjcmV0c2VjcmV0c2VjcmV0"

func TestCompile(t *testing.T) {
	for _, c := range []struct {
		name, alg, secret string
		wantErr           string // "" = valid
	}{
		{"lbd-internal.", "", secret, ""},
		{" LBD-Internal ", "HMAC-SHA512", " " + secret + " ", ""},
		{"k", "hmac-md5.sig-alg.reg.int", secret, ""},
		{"", "", secret, "empty name"},
		{"a..b", "", secret, "not a valid domain name"},
		{"k", "gss-tsig", secret, "unknown TSIG algorithm"},
		{"k", "", " ", "empty secret"},
		{"k", "", "not base64!", "not valid base64"},
	} {
		k, err := Compile(c.name, c.alg, c.secret)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q %q: unexpected error %v", c.name, c.alg, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q %q: error %v, want one containing %q", c.name, c.alg, err, c.wantErr)
		case c.wantErr == "" && (k.Name != dns.CanonicalName(strings.TrimSpace(c.name)) || !strings.HasSuffix(k.Algorithm, ".")):
			t.Errorf("%q %q: compiled to %q %q", c.name, c.alg, k.Name, k.Algorithm)
		}
	}
}

func TestCanonicalAlgorithm(t *testing.T) {
	for in, want := range map[string]string{
		"":                         dns.HmacSHA256,
		"hmac-md5":                 dns.HmacMD5,
		"HMAC-MD5.SIG-ALG.REG.INT": dns.HmacMD5,
		"hmac-sha1":                dns.HmacSHA1,
		" hmac-sha224 ":            dns.HmacSHA224,
		"hmac-sha384.":             dns.HmacSHA384,
	} {
		if got, err := CanonicalAlgorithm(in); err != nil || got != want {
			t.Errorf("CanonicalAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// signed packs a query signed by p with the TSIG record of key name/alg.
func signed(t *testing.T, p dns.TsigProvider, name, alg string) []byte {
	t.Helper()
	m := new(dns.Msg).SetQuestion("lb.example.org.", dns.TypeSOA)
	m.SetTsig(name, alg, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerateWithProvider(m, p, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verify verifies a copy of b (verification rewrites the message).
func verify(b []byte, p dns.TsigProvider) error {
	return dns.TsigVerifyWithProvider(append([]byte(nil), b...), p, "", false)
}

func TestProvider(t *testing.T) {
	for _, alg := range []string{"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"} {
		k, err := Compile("k1", alg, secret)
		if err != nil {
			t.Fatal(err)
		}
		b := signed(t, k, "k1.", k.Algorithm)
		if err := verify(b, k); err != nil {
			t.Errorf("%s: own signature: %v", alg, err)
		}
		kr := Keyring{k.Name: k}
		if err := verify(b, kr); err != nil {
			t.Errorf("%s: keyring: %v", alg, err)
		}
		if alg != "hmac-md5" { // the library's own provider lacks hmac-md5
			if err := dns.TsigVerify(append([]byte(nil), b...), secret, "", false); err != nil {
				t.Errorf("%s: library verification: %v", alg, err)
			}
		}
		b[13] ^= 1 // a letter of the question name
		if err := verify(b, k); err == nil || IsBadKey(err) {
			t.Errorf("%s: tampered message: %v", alg, err)
		}
	}
}

func TestBadKey(t *testing.T) {
	k1, _ := Compile("k1", "hmac-sha256", secret)
	k2, _ := Compile("k2", "hmac-md5", secret)
	kr := Keyring{k1.Name: k1, k2.Name: k2}
	other, _ := Compile("k1", "hmac-sha256", "b3RoZXItc2VjcmV0")

	for name, c := range map[string]struct {
		msg  []byte
		p    dns.TsigProvider
		want func(error) bool
	}{
		"unknown name":    {signed(t, Keyring{"k3.": mustKey(t, "k3")}, "k3.", dns.HmacSHA256), kr, IsBadKey},
		"wrong algorithm": {signed(t, Keyring{"k1.": mustKey(t, "k1", "hmac-sha1")}, "k1.", dns.HmacSHA1), kr, IsBadKey},
		"other name":      {signed(t, k2, "k2.", dns.HmacMD5), k1, IsBadKey},
		"wrong secret":    {signed(t, other, "k1.", dns.HmacSHA256), kr, func(err error) bool { return errors.Is(err, dns.ErrSig) && !IsBadKey(err) }},
	} {
		if err := verify(c.msg, c.p); !c.want(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := k1.Generate(nil, &dns.TSIG{Hdr: dns.RR_Header{Name: "k2."}, Algorithm: dns.HmacSHA256}); !IsBadKey(err) {
		t.Errorf("Generate for another key: %v", err)
	}
}

func mustKey(t *testing.T, name string, alg ...string) *Key {
	t.Helper()
	a := ""
	if len(alg) > 0 {
		a = alg[0]
	}
	k, err := Compile(name, a, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
