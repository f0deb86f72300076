package agent

import (
	"fmt"
	"strings"

	"github.com/lbd-project/lbd/internal/snmpwire"
)

// The USM primitives (password to key with the Ku cache, localization,
// the pooled allocation-free HMAC, AES-CFB-128) are internal/snmpwire's;
// this file holds the agent's choice of protocols and its user checks.

// authProtos are the accepted authentication protocols: RFC 3414 (md5,
// sha: 96-bit MACs) and RFC 7860 (SHA-2: 192/384-bit MACs).
var authProtos = map[string]*snmpwire.AuthProtocol{
	"md5":    snmpwire.AuthMD5,
	"sha":    snmpwire.AuthSHA,
	"sha256": snmpwire.AuthSHA256,
	"sha512": snmpwire.AuthSHA512,
}

// privProtos are the accepted privacy protocols: RFC 3826 AES-128, and
// AES-256 with the draft-blumenthal-aes-usm-04 key extension (what gosnmp
// calls AES256 and net-snmp uses for AES-256).
var privProtos = map[string]*snmpwire.PrivProtocol{
	"aes":    snmpwire.PrivAES,
	"aes256": snmpwire.PrivAES256,
}

// AuthProtocols lists the accepted authentication protocol names.
var AuthProtocols = []string{"md5", "sha", "sha256", "sha512"}

// PrivProtocols lists the accepted privacy protocol names ("" = none).
var PrivProtocols = []string{"", "aes", "aes256"}

// user is a configured USM user with its localized keys.
type user struct {
	name string
	auth *snmpwire.AuthKey
	priv *snmpwire.PrivKey // nil: no privacy
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
	key, err := snmpwire.LocalAuthKey(p, u.AuthPassword, engineID)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Name, err)
	}
	r := &user{name: u.Name, auth: key}
	if u.PrivProtocol == "" {
		if u.PrivPassword != "" {
			return nil, fmt.Errorf("user %q: priv password set without a priv protocol", u.Name)
		}
		return r, nil
	}
	priv, ok := privProtos[strings.ToLower(u.PrivProtocol)]
	if !ok {
		return nil, fmt.Errorf("user %q: unknown priv protocol %q (want \"\", aes or aes256)", u.Name, u.PrivProtocol)
	}
	if len(u.PrivPassword) < 8 {
		return nil, fmt.Errorf("user %q: priv password must have at least 8 characters (RFC 3414)", u.Name)
	}
	if r.priv, err = snmpwire.NewPrivKey(p, priv, u.PrivPassword, engineID); err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Name, err)
	}
	return r, nil
}
