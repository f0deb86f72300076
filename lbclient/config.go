package lbclient

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// Defaults.
const (
	DefaultRoot     = "/"
	DefaultInterval = 10 * time.Second
	// DefaultTimeout bounds one check or load unless it sets its own.
	DefaultTimeout = 3 * time.Second
	// DefaultWorkers is how many mappings are evaluated at the same time.
	DefaultWorkers = 4
	// DefaultPushTimeout and DefaultPushRetries bound one inform (an
	// unacknowledged inform is sent 1+retries times, each waiting timeout).
	DefaultPushTimeout = time.Second
	DefaultPushRetries = 2
	// StateBootsFile is the boots file name inside $STATE_DIRECTORY (set by
	// systemd's StateDirectory=) when boots_file is not configured.
	StateBootsFile = "boots"
)

// DefaultListen is used when [agent] has no listen key.
var DefaultListen = []string{"0.0.0.0:161", "[::]:161"}

// Config is the lbclient TOML configuration. Fill it with Load, or with
// Defaults + tomlconf.Decode + Validate.
type Config struct {
	Agent   AgentConfig   `toml:"agent"`
	Default MappingConfig `toml:"default"`
	Alias   []AliasConfig `toml:"alias"`

	// DefaultLoad computes the built-in default load (COMPAT.md §5.6) of a
	// mapping whose metric is 0 after its checks and loads; root is
	// [agent] root. Defaults sets checks.DefaultLoad; tests may replace it.
	// nil means 1.
	DefaultLoad func(root string) int `toml:"-"`

	// File is the path the configuration was read from.
	File string `toml:"-"`

	// Composer, when set, replaces Compose in the Evaluator (e.g. the
	// legacy rule: one mapping → INTEGER even with several aliases).
	Composer func([]AliasLoad) agent.Value `toml:"-"`

	// Source, when set, re-reads the configuration on SIGHUP (Run). nil
	// means Load(File) when File is set.
	Source func() (*Config, error) `toml:"-"`

	// Set by Validate.
	interval    time.Duration
	pushTimeout time.Duration
	engineID    []byte
	mappings    []*Mapping
	aliases     []string
}

// AgentConfig is the [agent] section.
type AgentConfig struct {
	// Listen lists "ip:port" UDP addresses; one socket each.
	Listen []string `toml:"listen"`
	// Root is the file-system root checks read under.
	Root string `toml:"root"`
	// Community enables SNMPv2c when non-empty.
	Community string `toml:"community"`
	// Users are the SNMPv3 USM users.
	Users []UserConfig `toml:"users"`
	// EngineID is the SNMP engine ID in hex; default derived from the host name.
	EngineID string `toml:"engine_id"`
	// BootsFile persists snmpEngineBoots (incremented at every start and at
	// a reload that changes the SNMP settings). Empty: $STATE_DIRECTORY/boots
	// when systemd sets STATE_DIRECTORY, else not persisted (see BootsPath).
	BootsFile string `toml:"boots_file"`
	// Interval is the evaluation period (Go duration).
	Interval string `toml:"interval"`
	// Workers bounds how many mappings are evaluated concurrently (default
	// DefaultWorkers); within a mapping the steps run in order.
	Workers int `toml:"workers"`

	// Push lists "host:port" addresses (lbd trap receivers) sent an SNMPv2c
	// trap or inform when an alias becomes usable or unusable (push.go).
	Push []string `toml:"push"`
	// PushCommunity is the community of pushed notifications; default the
	// agent's community, else "public".
	PushCommunity string `toml:"push_community"`
	// PushInform sends informs (acknowledged, retried) instead of traps.
	PushInform bool `toml:"push_inform"`
	// PushTimeout (Go duration, default "1s") and PushRetries (default 2)
	// bound one inform.
	PushTimeout string `toml:"push_timeout"`
	PushRetries *int   `toml:"push_retries"`
}

// UserConfig is one SNMPv3 user.
type UserConfig struct {
	Name         string `toml:"name"`
	AuthProtocol string `toml:"auth_protocol"`
	AuthPassword string `toml:"auth_password"`
	PrivProtocol string `toml:"priv_protocol"`
	PrivPassword string `toml:"priv_password"`
}

// MappingConfig is the [default] section: checks then loads.
type MappingConfig struct {
	Checks ItemList `toml:"checks"`
	Loads  ItemList `toml:"loads"`
}

// AliasConfig is one [[alias]].
type AliasConfig struct {
	Name   string   `toml:"name"`
	Checks ItemList `toml:"checks"`
	Loads  ItemList `toml:"loads"`
}

// ItemList is a TOML array whose elements are a check or load name
// ("nologin") or a table {type, data, timeout}. It is nil when the key is
// absent, empty (non-nil) for "checks = []".
type ItemList []Item

// Item is one element of an ItemList as decoded; Validate converts it (so
// that errors carry the key) with checks.Spec.
type Item struct{ Raw any }

// UnmarshalTOML implements toml.Unmarshaler (and marks a table's keys
// decoded, so they are not reported as unknown).
func (i *Item) UnmarshalTOML(v any) error {
	i.Raw = v
	return nil
}

// Defaults returns a Config holding the default values.
func Defaults() *Config {
	return &Config{Agent: AgentConfig{
		Listen:   append([]string(nil), DefaultListen...),
		Root:     DefaultRoot,
		Interval: DefaultInterval.String(),
		Workers:  DefaultWorkers,
	}, DefaultLoad: func(root string) int { return checks.DefaultLoad(checks.Env{Root: root}) }}
}

// Load reads, decodes (unknown keys are errors) and validates file.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse is Load for data already read from file.
func Parse(file string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.File = file
	doc, err := tomlconf.Decode(file, data, cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(doc); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks every value and builds every check and load (so bad
// arguments are reported now, with their key), and the mappings. doc
// locates keys for error messages; it may be nil.
func (c *Config) Validate(doc *tomlconf.Doc) error {
	if doc == nil {
		doc = &tomlconf.Doc{File: c.File}
	}
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, doc.Errorf(key, format, args...)) }

	a := &c.Agent
	if len(a.Listen) == 0 {
		bad("agent.listen", "at least one listen address is required")
	}
	seen := map[netip.AddrPort]bool{}
	for i, l := range a.Listen {
		ap, err := netip.ParseAddrPort(l)
		switch {
		case err != nil:
			bad(fmt.Sprintf("agent.listen[%d]", i), "%q is not an ip:port address (IPv6 in brackets): %v", l, err)
		case ap.Port() == 0:
			bad(fmt.Sprintf("agent.listen[%d]", i), "%q: port 0", l)
		case seen[ap]:
			bad(fmt.Sprintf("agent.listen[%d]", i), "%q listed twice", l)
		}
		seen[ap] = true
	}
	if a.Root == "" {
		bad("agent.root", "must not be empty (default %q)", DefaultRoot)
	} else if st, err := os.Stat(a.Root); err != nil || !st.IsDir() {
		bad("agent.root", "%q is not a directory", a.Root)
	}
	if a.Community == "" && len(a.Users) == 0 {
		bad("agent", "configure a community (SNMPv2c) or at least one SNMPv3 user")
	}
	users := map[string]bool{}
	for i, u := range a.Users {
		k := fmt.Sprintf("agent.users[%d]", i)
		if u.Name == "" {
			bad(k+".name", "user name is required")
		} else if users[u.Name] {
			bad(k+".name", "duplicate user %q", u.Name)
		}
		users[u.Name] = true
		if !oneOf(u.AuthProtocol, agent.AuthProtocols) {
			bad(k+".auth_protocol", "%q is not one of %s", u.AuthProtocol, strings.Join(agent.AuthProtocols, ", "))
		}
		if len(u.AuthPassword) < 8 {
			bad(k+".auth_password", "must have at least 8 characters")
		}
		if !oneOf(u.PrivProtocol, agent.PrivProtocols) {
			bad(k+".priv_protocol", "%q is not one of \"\", aes, aes256", u.PrivProtocol)
		} else if u.PrivProtocol != "" && len(u.PrivPassword) < 8 {
			bad(k+".priv_password", "must have at least 8 characters")
		} else if u.PrivProtocol == "" && u.PrivPassword != "" {
			bad(k+".priv_password", "set without priv_protocol")
		}
	}
	c.engineID = nil
	if a.EngineID != "" {
		s := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(a.EngineID), "0x"), ":", "")
		id, err := hex.DecodeString(s)
		if err != nil || len(id) < 5 || len(id) > 32 {
			bad("agent.engine_id", "%q: want 5 to 32 bytes in hex", a.EngineID)
		}
		c.engineID = id
	}
	d, err := time.ParseDuration(a.Interval)
	if err != nil || d <= 0 {
		bad("agent.interval", "%q is not a positive duration such as \"10s\"", a.Interval)
	}
	c.interval = d
	if a.Workers < 1 || a.Workers > 256 {
		bad("agent.workers", "%d: want 1..256 (default %d)", a.Workers, DefaultWorkers)
	}
	for i, p := range a.Push {
		host, port, err := net.SplitHostPort(p)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			bad(fmt.Sprintf("agent.push[%d]", i), "%q is not a host:port address (IPv6 in brackets), e.g. \"192.0.2.1:162\"", p)
		}
	}
	c.pushTimeout = DefaultPushTimeout
	if a.PushTimeout != "" {
		d, err := time.ParseDuration(a.PushTimeout)
		if err != nil || d <= 0 {
			bad("agent.push_timeout", "%q is not a positive duration such as \"1s\"", a.PushTimeout)
		}
		c.pushTimeout = d
	}
	if a.PushRetries != nil && (*a.PushRetries < 0 || *a.PushRetries > 10) {
		bad("agent.push_retries", "%d: want 0..10", *a.PushRetries)
	}

	// mappings
	c.mappings, c.aliases = nil, nil
	def := &Mapping{Default: true}
	def.Steps = c.buildSteps(bad, "default", c.Default.Checks, c.Default.Loads)
	if len(c.Alias) == 0 {
		bad("alias", "at least one [[alias]] is required")
	}
	names := map[string]int{}
	for i := range c.Alias {
		al := &c.Alias[i]
		k := fmt.Sprintf("alias[%d]", i)
		switch n := canonical(al.Name); {
		case al.Name == "":
			bad(k+".name", "alias name is required")
		case strings.ContainsAny(al.Name, ",= \t\r\n"):
			bad(k+".name", "%q: an alias name cannot contain ',', '=' or blanks", al.Name)
		default:
			if j, dup := names[n]; dup {
				bad(k+".name", "duplicate alias %q (also alias[%d])", al.Name, j)
			}
			names[n] = i
		}
		c.aliases = append(c.aliases, al.Name)
		if al.Checks != nil || al.Loads != nil {
			m := &Mapping{Name: al.Name, Aliases: []string{al.Name}}
			m.Steps = c.buildSteps(bad, k, al.Checks, al.Loads)
			c.mappings = append(c.mappings, m)
		} else {
			def.Aliases = append(def.Aliases, al.Name)
		}
	}
	if len(def.Aliases) > 0 {
		c.mappings = append(c.mappings, def)
	}
	return errors.Join(errs...)
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	return false
}

// canonical is the comparison form of an alias name.
func canonical(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// buildSteps converts and builds the checks and loads of one section.
func (c *Config) buildSteps(bad func(string, string, ...any), section string, cl, ll ItemList) []Step {
	var steps []Step
	for _, part := range []struct {
		name string
		list ItemList
		load bool
	}{{"checks", cl, false}, {"loads", ll, true}} {
		for i, item := range part.list {
			key := fmt.Sprintf("%s.%s[%d]", section, part.name, i)
			spec, err := toSpec(item.Raw)
			if err != nil {
				bad(key+err.key, "%s", err.msg)
				continue
			}
			var chk checks.Check
			var berr error
			if part.load {
				chk, berr = checks.NewLoad(spec)
			} else {
				chk, berr = checks.New(spec)
			}
			if berr != nil {
				bad(key, "%v", berr)
				continue
			}
			steps = append(steps, Step{Key: key, Spec: spec, Check: chk, Load: part.load})
		}
	}
	return steps
}

type itemError struct{ key, msg string }

// toSpec converts one raw item: "name" or {type, data, timeout}.
func toSpec(raw any) (checks.Spec, *itemError) {
	switch v := raw.(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			return checks.Spec{}, &itemError{"", "empty name"}
		}
		return checks.Spec{Type: v}, nil
	case map[string]any:
		var s checks.Spec
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x := v[k]
			switch k {
			case "type":
				str, ok := x.(string)
				if !ok || strings.TrimSpace(str) == "" {
					return s, &itemError{".type", "must be a non-empty string"}
				}
				s.Type = str
			case "data":
				switch d := x.(type) {
				case string:
					s.Data = d
				case int64:
					s.Data = strconv.FormatInt(d, 10)
				case float64:
					s.Data = strconv.FormatFloat(d, 'f', -1, 64)
				default:
					return s, &itemError{".data", fmt.Sprintf("must be a string, not %T", x)}
				}
			case "timeout":
				str, ok := x.(string)
				d, err := time.ParseDuration(str)
				if !ok || err != nil || d <= 0 {
					return s, &itemError{".timeout", fmt.Sprintf("%v is not a positive duration such as \"3s\"", x)}
				}
				s.Timeout = d
			default:
				return s, &itemError{"." + k, "unknown key (want type, data, timeout)"}
			}
		}
		if s.Type == "" {
			return s, &itemError{".type", "type is required"}
		}
		return s, nil
	}
	return checks.Spec{}, &itemError{"", fmt.Sprintf("must be a name or a {type, data, timeout} table, not %T", raw)}
}

// Interval is the evaluation period.
func (c *Config) Interval() time.Duration { return c.interval }

// Aliases lists the aliases in configuration order.
func (c *Config) Aliases() []string { return c.aliases }

// Mappings lists the mappings: alias-specific ones in configuration order,
// then the default mapping if it serves at least one alias.
func (c *Config) Mappings() []*Mapping { return c.mappings }

// Workers is [agent] workers; DefaultWorkers if unset (a Config built
// without Defaults, e.g. from legacy files).
func (c *Config) Workers() int {
	if c.Agent.Workers < 1 {
		return DefaultWorkers
	}
	return c.Agent.Workers
}

// BootsPath is where snmpEngineBoots is persisted: boots_file, else
// $STATE_DIRECTORY/boots when systemd provides a state directory
// (StateDirectory=lbclient in etc/lbclient.service), else "" (not
// persisted: boots is 1 at every start).
func (c *Config) BootsPath() string {
	if c.Agent.BootsFile != "" {
		return c.Agent.BootsFile
	}
	if dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return filepath.Join(dir, StateBootsFile)
	}
	return ""
}

// compose is Composer or Compose.
func (c *Config) compose(loads []AliasLoad) agent.Value {
	if c.Composer != nil {
		return c.Composer(loads)
	}
	return Compose(loads)
}

// EngineID is the configured engine ID, or one derived from the host name.
func (c *Config) EngineID() []byte {
	if c.engineID != nil {
		return c.engineID
	}
	h, _ := os.Hostname()
	return agent.EngineIDFor(h)
}

// agentUsers converts the users for package agent.
func (c *Config) agentUsers() []agent.User {
	var out []agent.User
	for _, u := range c.Agent.Users {
		out = append(out, agent.User{Name: u.Name, AuthProtocol: strings.ToLower(u.AuthProtocol), AuthPassword: u.AuthPassword,
			PrivProtocol: strings.ToLower(u.PrivProtocol), PrivPassword: u.PrivPassword})
	}
	return out
}
