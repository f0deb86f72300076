package config

import (
	"fmt"
	"slices"

	"github.com/lbd-project/lbd/internal/register"
)

// Values of an alias's members_from.
const (
	MembersStatic   = "static"   // the members listed (the default)
	MembersRegister = "register" // those plus the members that registered
)

// RegisterSecrets maps each alias (normalised) to its registration
// secret, from [lbd] register_secret_file; nil without the file.
func (c *Spec) RegisterSecrets() map[string][]byte { return c.LBD.registerSecrets }

// RegisterSecretPath is register_secret_file, relative to the
// configuration file.
func (c *Spec) RegisterSecretPath() string {
	return c.path(c.LBD.RegisterSecretFile)
}

func (c *Spec) validateRegister() []error {
	c.LBD.registerSecrets = nil
	if c.LBD.RegisterSecretFile == "" {
		return nil
	}
	b, err := c.readKeyFile("lbd.register_secret_file", c.RegisterSecretPath())
	if err != nil {
		return []error{err}
	}
	secrets, err := register.ParseSecrets(string(b))
	if err != nil {
		return []error{c.Errorf("lbd.register_secret_file", "%s: %v", c.RegisterSecretPath(), err)}
	}
	c.LBD.registerSecrets = secrets
	for i, a := range c.Aliases {
		if a.MembersFrom == MembersRegister {
			if _, ok := secrets[NormName(a.Name)]; !ok {
				c.warn(fmt.Sprintf("alias[%d].members_from", i), "%s has no secret in %s: its registrations are refused", a.Name, c.RegisterSecretPath())
			}
		}
	}
	return nil
}

// WithMembers is the configuration with extra[i] added to alias i's
// members (registered members, in the order given), sharing everything
// else with c; c is not modified. Members already listed are not added
// twice.
func (c *Compiled) WithMembers(extra map[int][]string) *Compiled {
	if len(extra) == 0 {
		return c
	}
	out := *c
	out.Params = slices.Clone(c.Params)
	for i, hosts := range extra {
		p := &out.Params[i]
		members := slices.Clip(slices.Clone(p.Members))
		have := map[string]bool{}
		for _, m := range members {
			have[memberID(m)] = true
		}
		for _, h := range hosts {
			if !have[memberID(h)] {
				have[memberID(h)] = true
				members = append(members, h)
			}
		}
		p.Members = members
	}
	return &out
}
