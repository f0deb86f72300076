package tsig

import (
	"strings"
	"testing"
)

func TestSpecCompile(t *testing.T) {
	const secret = "c2VjcmV0c2VjcmV0c2VjcmV0"
	tests := []struct {
		key     Spec
		wantErr string // "" = valid
	}{
		{Spec{Name: "lbd-internal.", Secret: secret}, ""},
		{Spec{Name: "lbd-internal", Algorithm: "hmac-sha256", Secret: secret}, ""},
		{Spec{Name: "k", Algorithm: "HMAC-SHA512", Secret: secret}, ""},
		{Spec{Name: "k", Algorithm: "hmac-sha1.", Secret: secret}, ""},
		{Spec{Name: "k", Algorithm: "hmac-md5", Secret: secret}, ""},
		{Spec{Name: "k", Algorithm: "hmac-md5.sig-alg.reg.int.", Secret: secret}, ""},
		{Spec{Name: "k", Algorithm: "hmac-md5.sig-alg.reg.int", Secret: secret}, ""},
		{Spec{Name: "", Secret: secret}, "empty name"},
		{Spec{Name: "a..b", Secret: secret}, "not a valid domain name"},
		{Spec{Name: "k", Algorithm: "hmac-sha3", Secret: secret}, "unknown TSIG algorithm"},
		{Spec{Name: "k", Algorithm: "gss-tsig", Secret: secret}, "unknown TSIG algorithm"},
		{Spec{Name: "k"}, "empty secret"},
		{Spec{Name: "k", Secret: "not base64!"}, "not valid base64"},
	}
	for _, tt := range tests {
		_, err := tt.key.Compile()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.key, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%+v: error %v, want one containing %q", tt.key, err, tt.wantErr)
		}
	}
}

func TestCanonicalAlgorithmSpellings(t *testing.T) {
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
