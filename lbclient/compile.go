package lbclient

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/lbclient/agent"
)

// Plan is what a configuration means, as data (no function, no built
// check): the agent settings, the mappings with their steps, the aliases
// in answer order and the composition rule. Config.Plan makes one from the
// TOML configuration, package legacy from a legacy directory; Compile
// turns either into the runtime configuration.
type Plan struct {
	// File is where the configuration was read from (a file or directory).
	File  string
	Agent AgentConfig
	// Mappings are evaluated in this order.
	Mappings []MappingPlan
	// Aliases is the answer order.
	Aliases []string
	Rule    Rule
	// Doc locates the TOML keys of step errors; nil names File only.
	Doc *tomlconf.Doc
}

// MappingPlan is one mapping of a Plan (see Mapping).
type MappingPlan struct {
	Default bool
	Name    string
	Aliases []string
	Steps   []StepPlan
}

// StepPlan is one check or load of a mapping, or a configuration error.
type StepPlan struct {
	// Key locates the step: "alias[1].loads[0]" or "file:line".
	Key  string
	Spec checks.Spec
	Load bool
	// Failure, when set, makes the step a configuration error that always
	// fails hard (Spec and Load are then unused).
	Failure *Failure
}

// Failure is a configuration error evaluated as a step.
type Failure struct {
	// Metric is what the mapping reports (negative).
	Metric int
	Msg    string
}

// Rule is how the per-alias loads compose the SNMP answer (docs/protocol.md §5.7).
type Rule int

// Composition rules.
const (
	// PerAlias is the TOML rule (Compose): exactly one alias → INTEGER.
	PerAlias Rule = iota
	// PerMapping is the legacy rule (ComposePerMapping): exactly one
	// mapping → INTEGER, even if it serves several aliases.
	PerMapping
	// AlwaysConfigError answers the INTEGER ConfigError whatever the
	// loads: nothing can be served.
	AlwaysConfigError
)

// Compiled is the runtime configuration: the agent settings and the built
// mappings, ready for the Evaluator, Start and the pass modes. Make it with
// Load, Parse or Compile.
type Compiled struct {
	// File is Plan.File.
	File string
	// Agent holds the agent settings (callers may override Root).
	Agent AgentConfig
	// DefaultLoad computes the built-in default load (docs/protocol.md §5.6) of a
	// mapping whose metric is 0 after its checks and loads; root is
	// [agent] root. Compile sets checks.DefaultLoad; tests may replace it.
	// nil means 1.
	DefaultLoad func(root string) int

	interval time.Duration
	engineID []byte
	mappings []*Mapping
	aliases  []string
	rule     Rule

	agentCheck agentCheckSettings
	register   registerSettings
}

// Compile builds every check and load of p (so that bad arguments are
// reported now, with their key) and derives the runtime values.
func Compile(p *Plan) (*Compiled, error) {
	if p == nil {
		return nil, errors.New("no configuration")
	}
	doc := p.Doc
	if doc == nil {
		doc = &tomlconf.Doc{File: p.File}
	}
	c := &Compiled{File: p.File, Agent: p.Agent, rule: p.Rule, interval: p.Agent.Interval.Duration,
		aliases:     append([]string(nil), p.Aliases...),
		DefaultLoad: func(root string) int { return checks.DefaultLoad(checks.Env{Root: root}) }}
	if c.interval <= 0 {
		c.interval = DefaultInterval
	}
	c.engineID, _ = parseEngineID(p.Agent.EngineID)
	c.agentCheck = compileAgentCheck(p.Agent)
	pr := &problems{doc: doc}
	c.register = compileRegister(pr, p.File, p.Agent, p.Aliases)
	for _, mp := range p.Mappings {
		m := &Mapping{Default: mp.Default, Name: mp.Name, Aliases: append([]string(nil), mp.Aliases...)}
		for _, sp := range mp.Steps {
			if s, ok := buildStep(pr, sp); ok {
				m.Steps = append(m.Steps, s)
			}
		}
		c.mappings = append(c.mappings, m)
	}
	return c, pr.err()
}

// buildStep builds one step; an error is reported under its key.
func buildStep(p *problems, sp StepPlan) (Step, bool) {
	if f := sp.Failure; f != nil {
		return errorStep(sp.Key, f.Metric, f.Msg), true
	}
	build := checks.New
	if sp.Load {
		build = checks.NewLoad
	}
	chk, err := build(sp.Spec)
	if err != nil {
		p.bad(sp.Key, "%v", err)
		return Step{}, false
	}
	return Step{Key: sp.Key, Spec: sp.Spec, Check: chk, Load: sp.Load}, true
}

// errorStep is a step that always fails hard with metric (negative).
func errorStep(key string, metric int, msg string) Step {
	reason := "configuration error: " + msg
	return Step{Key: key, Spec: checks.Spec{Type: "configuration-error", Data: msg},
		Check: checks.CheckFunc(func(context.Context, checks.Env) checks.Result {
			return checks.Result{Code: -metric, Hard: true, Reason: reason}
		})}
}

// BrokenConfig answers the INTEGER ConfigError for every alias: what the
// pass modes answer when the configuration cannot be loaded at all (its
// aliases are unknown, and an empty answer would hide the error).
func BrokenConfig() *Compiled {
	c, _ := Compile(&Plan{Agent: Defaults().Agent, Rule: AlwaysConfigError})
	return c
}

// Interval is the evaluation period.
func (c *Compiled) Interval() time.Duration { return c.interval }

// Aliases lists the aliases in answer order.
func (c *Compiled) Aliases() []string { return c.aliases }

// Mappings lists the mappings in evaluation order (TOML: alias-specific
// ones in configuration order, then the default mapping if it serves at
// least one alias).
func (c *Compiled) Mappings() []*Mapping { return c.mappings }

// Rule is the composition rule.
func (c *Compiled) Rule() Rule { return c.rule }

// Workers is [agent] workers; DefaultWorkers if unset.
func (c *Compiled) Workers() int {
	if c.Agent.Workers < 1 {
		return DefaultWorkers
	}
	return c.Agent.Workers
}

// BootsPath is where snmpEngineBoots is persisted: boots_file, else
// $STATE_DIRECTORY/boots when systemd provides a state directory
// (StateDirectory=lbclient in etc/lbclient.service), else "" (not
// persisted: boots is 1 at every start).
func (c *Compiled) BootsPath() string {
	if c.Agent.BootsFile != "" {
		return c.Agent.BootsFile
	}
	if dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); dir != "" {
		return filepath.Join(dir, StateBootsFile)
	}
	return ""
}

// Compose builds the answer from the per-alias loads (in Aliases order)
// with the configuration's rule.
func (c *Compiled) Compose(loads []AliasLoad) agent.Value {
	switch c.rule {
	case PerMapping:
		return ComposePerMapping(len(c.mappings), loads)
	case AlwaysConfigError:
		return agent.Value{Int: ConfigError}
	}
	return Compose(loads)
}

// EngineID is the configured engine ID, or one derived from the host name.
func (c *Compiled) EngineID() []byte {
	if c.engineID != nil {
		return c.engineID
	}
	h, _ := os.Hostname()
	return agent.EngineIDFor(h)
}

// agentUsers converts the users for package agent.
func (c *Compiled) agentUsers() []agent.User {
	var out []agent.User
	for _, u := range c.Agent.Users {
		out = append(out, agent.User{Name: u.Name, AuthProtocol: strings.ToLower(u.AuthProtocol), AuthPassword: u.AuthPassword,
			PrivProtocol: strings.ToLower(u.PrivProtocol), PrivPassword: u.PrivPassword})
	}
	return out
}

// Loader reads the configuration again (Run, on SIGHUP).
type Loader interface {
	Load() (*Compiled, error)
}

// FileLoader is a Loader reading a TOML file with Load.
type FileLoader string

// Load implements Loader.
func (f FileLoader) Load() (*Compiled, error) { return Load(string(f)) }
