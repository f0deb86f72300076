package lbclient

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
	"github.com/lbd-project/lbd/lbclient/agentcheck"
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

// Config is the lbclient TOML configuration as written: a plain value,
// with File, the path it was read from. Load and Parse decode it and
// compile it (Config.Plan, then Compile) into the runtime configuration.
type Config struct {
	Agent   AgentConfig   `toml:"agent"`
	Default MappingConfig `toml:"default"`
	Alias   []AliasConfig `toml:"alias"`

	// File is the path the configuration was read from.
	File string `toml:"-"`
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
	Interval tomlconf.Duration `toml:"interval"`
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
	PushTimeout tomlconf.Duration `toml:"push_timeout"`
	PushRetries *int              `toml:"push_retries"`

	// MetricsListen, "ip:port", serves Prometheus metrics at /metrics
	// (metrics.go); empty: none.
	MetricsListen string `toml:"metrics_listen"`

	// AgentCheckListen lists "ip:port" TCP addresses answering HAProxy's
	// agent check (package agentcheck, agentcheck.go); empty: none.
	AgentCheckListen []string `toml:"agent_check_listen"`
	// AgentCheckPortAlias maps a port of AgentCheckListen ("9778") to the
	// alias answered there, whatever HAProxy sends.
	AgentCheckPortAlias map[string]string `toml:"agent_check_port_alias"`
	// AgentCheckDrained is the word answered while the member is asked to
	// leave (nologin, roger, reboot, not ready): drain (default), maint, down.
	AgentCheckDrained string `toml:"agent_check_drained"`
	// AgentCheckUnusable is the word answered for every other unusable
	// state: down (default), drain, maint.
	AgentCheckUnusable string `toml:"agent_check_unusable"`
	// AgentCheckFullLoad is the load at or below which the weight is
	// 100 %; above it, round(100 × full / load) % (default 100).
	AgentCheckFullLoad int `toml:"agent_check_full_load"`

	// Register lists lbd HTTP addresses ("host:port") this member
	// registers itself with, for every alias that has a secret in
	// RegisterSecretFile (register.go); empty: none.
	Register []string `toml:"register"`
	// RegisterSecretFile holds one "alias secret" line per alias
	// (relative: to the configuration file's directory).
	RegisterSecretFile string `toml:"register_secret_file"`
	// RegisterInterval is how often the registrations are renewed
	// (default 30s); RegisterTTL how long one lasts without renewal
	// (default 3 × RegisterInterval).
	RegisterInterval tomlconf.Duration `toml:"register_interval"`
	RegisterTTL      tomlconf.Duration `toml:"register_ttl"`
	// RegisterHost is the member name announced (default: the host name);
	// RegisterAddresses the addresses lbd polls (default: none named, so
	// lbd uses the address the registration comes from; when set, it is
	// sent from the first of them).
	RegisterHost      string   `toml:"register_host"`
	RegisterAddresses []string `toml:"register_addresses"`
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

// Item is one element of an ItemList as decoded; Config.Plan converts it (so
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
		Listen:      append([]string(nil), DefaultListen...),
		Root:        DefaultRoot,
		Interval:    tomlconf.Duration{Duration: DefaultInterval},
		Workers:     DefaultWorkers,
		PushTimeout: tomlconf.Duration{Duration: DefaultPushTimeout},

		AgentCheckDrained:  string(agentcheck.DefaultDrained),
		AgentCheckUnusable: string(agentcheck.DefaultUnusable),
		AgentCheckFullLoad: agentcheck.DefaultFullLoad,
	}}
}

// Load reads, decodes (unknown keys are errors), validates and compiles
// file.
func Load(file string) (*Compiled, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Parse is Load for data already read from file.
func Parse(file string, data []byte) (*Compiled, error) {
	cfg := Defaults()
	cfg.File = file
	doc, err := tomlconf.Decode(file, data, cfg)
	if err != nil {
		return nil, err
	}
	plan, perr := cfg.Plan(doc)
	c, cerr := Compile(plan)
	if err := errors.Join(perr, cerr); err != nil {
		return nil, err
	}
	return c, nil
}

// problems collects configuration errors located by a Doc.
type problems struct {
	doc  *tomlconf.Doc
	errs []error
}

func (p *problems) bad(key, format string, args ...any) {
	p.errs = append(p.errs, p.doc.Errorf(key, format, args...))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// Plan checks every value and converts every item (so that errors carry
// their key) and returns what the configuration means as a Plan, the input
// of Compile. doc locates keys for error messages; it may be nil. With
// errors the Plan is still returned, so that Compile can report the
// arguments its checks reject in the same run.
func (c *Config) Plan(doc *tomlconf.Doc) (*Plan, error) {
	if doc == nil {
		doc = &tomlconf.Doc{File: c.File}
	}
	p := &problems{doc: doc}
	a := &c.Agent
	checkListen(p, a.Listen)
	checkRoot(p, a.Root)
	checkUsers(p, a)
	checkTimers(p, a)
	checkPush(p, a)
	checkMetricsListen(p, a.MetricsListen)
	plan := &Plan{File: c.File, Agent: c.Agent, Doc: doc, Rule: PerAlias}
	c.planMappings(p, plan)
	checkAgentCheck(p, a, plan.Aliases)
	checkRegister(p, a)
	return plan, p.err()
}

func checkListen(p *problems, listen []string) {
	if len(listen) == 0 {
		p.bad("agent.listen", "at least one listen address is required")
	}
	seen := map[netip.AddrPort]bool{}
	for i, l := range listen {
		ap, err := netip.ParseAddrPort(l)
		switch {
		case err != nil:
			p.bad(fmt.Sprintf("agent.listen[%d]", i), "%q is not an ip:port address (IPv6 in brackets): %v", l, err)
		case ap.Port() == 0:
			p.bad(fmt.Sprintf("agent.listen[%d]", i), "%q: port 0", l)
		case seen[ap]:
			p.bad(fmt.Sprintf("agent.listen[%d]", i), "%q listed twice", l)
		}
		seen[ap] = true
	}
}

func checkRoot(p *problems, root string) {
	if root == "" {
		p.bad("agent.root", "must not be empty (default %q)", DefaultRoot)
	} else if st, err := os.Stat(root); err != nil || !st.IsDir() {
		p.bad("agent.root", "%q is not a directory", root)
	}
}

// checkUsers checks the SNMP settings: community, users, engine ID.
func checkUsers(p *problems, a *AgentConfig) {
	if a.Community == "" && len(a.Users) == 0 {
		p.bad("agent", "configure a community (SNMPv2c) or at least one SNMPv3 user")
	}
	users := map[string]bool{}
	for i, u := range a.Users {
		k := fmt.Sprintf("agent.users[%d]", i)
		if u.Name == "" {
			p.bad(k+".name", "user name is required")
		} else if users[u.Name] {
			p.bad(k+".name", "duplicate user %q", u.Name)
		}
		users[u.Name] = true
		checkUser(p, k, u)
	}
	if _, ok := parseEngineID(a.EngineID); !ok {
		p.bad("agent.engine_id", "%q: want 5 to 32 bytes in hex", a.EngineID)
	}
}

func checkUser(p *problems, k string, u UserConfig) {
	if !oneOf(u.AuthProtocol, agent.AuthProtocols) {
		p.bad(k+".auth_protocol", "%q is not one of %s", u.AuthProtocol, strings.Join(agent.AuthProtocols, ", "))
	}
	if len(u.AuthPassword) < 8 {
		p.bad(k+".auth_password", "must have at least 8 characters")
	}
	switch {
	case !oneOf(u.PrivProtocol, agent.PrivProtocols):
		p.bad(k+".priv_protocol", "%q is not one of \"\", aes, aes256", u.PrivProtocol)
	case u.PrivProtocol != "" && len(u.PrivPassword) < 8:
		p.bad(k+".priv_password", "must have at least 8 characters")
	case u.PrivProtocol == "" && u.PrivPassword != "":
		p.bad(k+".priv_password", "set without priv_protocol")
	}
}

// parseEngineID decodes [agent] engine_id; "" is nil (derived from the
// host name).
func parseEngineID(s string) ([]byte, bool) {
	if s == "" {
		return nil, true
	}
	id, err := hex.DecodeString(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "0x"), ":", ""))
	return id, err == nil && len(id) >= 5 && len(id) <= 32
}

func checkTimers(p *problems, a *AgentConfig) {
	if a.Interval.Duration <= 0 {
		p.bad("agent.interval", "%q is not a positive duration such as \"10s\"", a.Interval.String())
	}
	if a.Workers < 1 || a.Workers > 256 {
		p.bad("agent.workers", "%d: want 1..256 (default %d)", a.Workers, DefaultWorkers)
	}
}

// checkHostPorts reports each entry of list (key[i]) that is not
// "host:port" with a port 1..65535, saying why.
func checkHostPorts(p *problems, key string, list []string, why string) {
	for i, t := range list {
		host, port, err := net.SplitHostPort(t)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.bad(fmt.Sprintf("%s[%d]", key, i), "%q %s", t, why)
		}
	}
}

func checkPush(p *problems, a *AgentConfig) {
	checkHostPorts(p, "agent.push", a.Push, "is not a host:port address (IPv6 in brackets), e.g. \"192.0.2.1:162\"")
	if a.PushTimeout.Duration <= 0 {
		p.bad("agent.push_timeout", "%q is not a positive duration such as \"1s\"", a.PushTimeout.String())
	}
	if a.PushRetries != nil && (*a.PushRetries < 0 || *a.PushRetries > 10) {
		p.bad("agent.push_retries", "%d: want 0..10", *a.PushRetries)
	}
}

// planMappings fills plan's mappings and aliases: alias-specific mappings in
// configuration order, then the default mapping if it serves an alias.
func (c *Config) planMappings(p *problems, plan *Plan) {
	def := MappingPlan{Default: true}
	def.Steps = planSteps(p, "default", c.Default.Checks, c.Default.Loads)
	if len(c.Alias) == 0 {
		p.bad("alias", "at least one [[alias]] is required")
	}
	names := map[string]int{}
	for i := range c.Alias {
		al := &c.Alias[i]
		k := fmt.Sprintf("alias[%d]", i)
		checkAliasName(p, k, al.Name, i, names)
		plan.Aliases = append(plan.Aliases, al.Name)
		if al.Checks != nil || al.Loads != nil {
			plan.Mappings = append(plan.Mappings, MappingPlan{Name: al.Name, Aliases: []string{al.Name},
				Steps: planSteps(p, k, al.Checks, al.Loads)})
		} else {
			def.Aliases = append(def.Aliases, al.Name)
		}
	}
	if len(def.Aliases) > 0 {
		plan.Mappings = append(plan.Mappings, def)
	}
}

// checkAliasName checks the name of alias[i] (key k); names maps the
// canonical names seen so far to their index.
func checkAliasName(p *problems, k, name string, i int, names map[string]int) {
	switch n := canonical(name); {
	case name == "":
		p.bad(k+".name", "alias name is required")
	case strings.ContainsAny(name, ",= \t\r\n"):
		p.bad(k+".name", "%q: an alias name cannot contain ',', '=' or blanks", name)
	default:
		if j, dup := names[n]; dup {
			p.bad(k+".name", "duplicate alias %q (also alias[%d])", name, j)
		}
		names[n] = i
	}
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

// planSteps converts the checks and loads of one section.
func planSteps(p *problems, section string, cl, ll ItemList) []StepPlan {
	var steps []StepPlan
	for _, part := range []struct {
		name string
		list ItemList
		load bool
	}{{"checks", cl, false}, {"loads", ll, true}} {
		for i, item := range part.list {
			key := fmt.Sprintf("%s.%s[%d]", section, part.name, i)
			spec, err := toSpec(item.Raw)
			if err != nil {
				p.bad(key+err.key, "%s", err.msg)
				continue
			}
			steps = append(steps, StepPlan{Key: key, Spec: spec, Load: part.load})
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
				var d tomlconf.Duration
				if !ok || d.UnmarshalText([]byte(str)) != nil || d.Duration <= 0 {
					return s, &itemError{".timeout", fmt.Sprintf("%v is not a positive duration such as \"3s\"", x)}
				}
				s.Timeout = d.Duration
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
