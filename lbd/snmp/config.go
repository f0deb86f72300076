package snmp

import (
	"fmt"

	"github.com/lbd-project/lbd/internal/snmpwire"
	"github.com/lbd-project/lbd/internal/tomlconf"
)

// Config is the [snmp] section of lbd.toml: how members are polled.
type Config struct {
	Version      string            `toml:"version"` // "2c" | "3"
	Port         int               `toml:"port"`
	Community    string            `toml:"community"`
	User         string            `toml:"user"`
	AuthProtocol string            `toml:"auth_protocol"`
	AuthPassword string            `toml:"auth_password"`
	PrivProtocol string            `toml:"priv_protocol"`
	PrivPassword string            `toml:"priv_password"`
	Timeout      tomlconf.Duration `toml:"timeout"`
	Retries      int               `toml:"retries"`
}

// Reply is one address's answer to the load GET.
type Reply struct {
	Value Value
	Err   error
}

// Problem is one invalid [snmp] setting: Key is the key within the section.
type Problem struct{ Key, Msg string }

// Problems lists every invalid setting of c (none for a valid section).
func (c *Config) Problems() []Problem {
	var ps []Problem
	bad := func(key, format string, args ...any) { ps = append(ps, Problem{key, fmt.Sprintf(format, args...)}) }
	s := c
	switch s.Version {
	case "2c":
		if s.Community == "" {
			bad("community", "required for version 2c")
		}
	case "3":
		if s.User == "" {
			bad("user", "required for version 3")
		}
		if _, err := snmpwire.LookupAuth(s.AuthProtocol); err != nil {
			bad("auth_protocol", "%v", err)
		}
		if len(s.AuthPassword) < 8 {
			bad("auth_password", "required for version 3, at least 8 characters (RFC 3414)")
		}
		if _, err := snmpwire.LookupPriv(s.PrivProtocol); err != nil {
			bad("priv_protocol", "%v", err)
		} else if s.PrivProtocol != "" && len(s.PrivPassword) < 8 {
			bad("priv_password", "required with priv_protocol, at least 8 characters")
		}
	default:
		bad("version", "must be \"2c\" or \"3\", not %q", s.Version)
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("port", "must be 1..65535")
	}
	if s.Timeout.Duration <= 0 {
		bad("timeout", "must be positive")
	}
	if s.Retries < 0 {
		bad("retries", "must not be negative")
	}
	return ps
}
