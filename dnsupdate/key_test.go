package dnsupdate

import (
	"strings"
	"testing"
)

func TestKeyValidate(t *testing.T) {
	const secret = "c2VjcmV0c2VjcmV0c2VjcmV0"
	tests := []struct {
		key     Key
		wantErr string // "" = valid
	}{
		{Key{Name: "lbd-internal.", Secret: secret}, ""},
		{Key{Name: "lbd-internal", Algorithm: "hmac-sha256", Secret: secret}, ""},
		{Key{Name: "k", Algorithm: "HMAC-SHA512", Secret: secret}, ""},
		{Key{Name: "k", Algorithm: "hmac-sha1.", Secret: secret}, ""},
		{Key{Name: "k", Algorithm: "hmac-md5", Secret: secret}, ""},
		{Key{Name: "k", Algorithm: "hmac-md5.sig-alg.reg.int.", Secret: secret}, ""},
		{Key{Name: "k", Algorithm: "hmac-md5.sig-alg.reg.int", Secret: secret}, ""},
		{Key{Name: "", Secret: secret}, "empty name"},
		{Key{Name: "a..b", Secret: secret}, "not a valid domain name"},
		{Key{Name: "k", Algorithm: "hmac-sha3", Secret: secret}, "unknown TSIG algorithm"},
		{Key{Name: "k", Algorithm: "gss-tsig", Secret: secret}, "unknown TSIG algorithm"},
		{Key{Name: "k"}, "empty secret"},
		{Key{Name: "k", Secret: "not base64!"}, "not valid base64"},
	}
	for _, tt := range tests {
		err := tt.key.Validate()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.key, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want one containing %q", tt.key, err, tt.wantErr)
		}
	}
}

func TestCanonicalAlgorithm(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "hmac-sha256.",
		"hmac-md5":                 "hmac-md5.sig-alg.reg.int.",
		"HMAC-MD5.SIG-ALG.REG.INT": "hmac-md5.sig-alg.reg.int.",
		"hmac-sha1":                "hmac-sha1.",
		"hmac-sha512.":             "hmac-sha512.",
	} {
		got, err := CanonicalAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("CanonicalAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
