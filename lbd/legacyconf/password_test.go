package legacyconf

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lbd-project/lbd/lbd/config"
)

// A password under 8 characters converts, with a warning that gives the
// reason lbd -check-config then rejects the file for (lbd/snmp).
func TestShortSNMPPasswordWarns(t *testing.T) {
	const reason = "required for version 3, at least 8 characters (RFC 3414)"
	for _, c := range []struct {
		name, text string
	}{
		{"text", "master = lb1.example.org\ndns_manager = 127.0.0.1\ntsig_internal_key = c2VjcmV0\nsnmpd_password = short\n" +
			"parameters a.example.org = behaviour#mindless best_hosts#1 external#no metric#cmsfrontier polling_interval#6 statistics#long ttl#60\n" +
			"clusters a.example.org = h1.example.org\n"},
		{"yaml", "master: lb1.example.org\ndns_manager: 127.0.0.1\ntsig_internal_key: c2VjcmV0\nsnmppassword: 1234567\n" +
			"parameters:\n  a.example.org: behaviour#mindless best_hosts#1 external#no metric#cmsfrontier polling_interval#6 statistics#long ttl#60\n" +
			"clusters:\n  a.example.org: h1.example.org\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r *Result
			if c.name == "yaml" {
				var err error
				r, err = ParseYAML("lbd.yaml", []byte(c.text))
				require.NoError(t, err)
			} else {
				r = ParseText("lbd.conf", []byte(c.text))
			}
			var warn *Problem
			for i, p := range r.Problems {
				if strings.Contains(p.Msg, "snmpd_password") {
					warn = &r.Problems[i]
				}
			}
			require.NotNil(t, warn, "problems: %v", r.Problems)
			assert.False(t, warn.Error)
			assert.Contains(t, warn.Msg, "snmp.auth_password: "+reason)
			if c.name == "text" {
				assert.Equal(t, 4, warn.Line)
			}

			out, err := r.TOML()
			require.NoError(t, err)
			_, err = config.Parse("converted.toml", []byte(out))
			require.Error(t, err, "-check-config rejects it")
			assert.Contains(t, err.Error(), reason)
		})
	}
	// 8 characters: no warning
	r := ParseText("lbd.conf", []byte("snmpd_password = 12345678\n"))
	for _, p := range r.Problems {
		assert.NotContains(t, p.Msg, "snmpd_password:")
	}
}
