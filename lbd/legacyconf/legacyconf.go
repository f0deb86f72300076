package legacyconf

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/lbd-project/lbd/internal/tomlconf"
	"github.com/lbd-project/lbd/internal/tsig"
	"github.com/lbd-project/lbd/lbd/config"
	"github.com/lbd-project/lbd/lbd/snmp"
	"go.yaml.in/yaml/v3"
)

// Problem is one finding of the import, with the line it is about.
type Problem struct {
	Line  int
	Alias string
	Msg   string
	Error bool // else a warning
}

func (p Problem) String() string {
	s := "warning"
	if p.Error {
		s = "error"
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d: %s", p.Line, s)
	}
	if p.Alias != "" {
		s += ": alias " + p.Alias
	}
	return s + ": " + p.Msg
}

// Result is a converted legacy configuration.
type Result struct {
	File string
	// Config is the TOML model; aliases with errors are not in it.
	Config   *config.Spec
	Problems []Problem
}

// Errors reports whether any problem is an error.
func (r *Result) Errors() bool {
	for _, p := range r.Problems {
		if p.Error {
			return true
		}
	}
	return false
}

// model is what both formats are read into.
type model struct {
	globals  map[string]value // text key names
	params   map[string]map[string]value
	clusters map[string][]string
	lines    map[string]int // alias → line of its first mention
	order    []string
	problems []Problem
}

type value struct {
	s    string
	line int
}

func newModel() *model {
	return &model{globals: map[string]value{}, params: map[string]map[string]value{},
		clusters: map[string][]string{}, lines: map[string]int{}}
}

func (m *model) note(line int, alias string, isErr bool, format string, args ...any) {
	m.problems = append(m.problems, Problem{Line: line, Alias: alias, Msg: fmt.Sprintf(format, args...), Error: isErr})
}

func (m *model) alias(name string, line int) string {
	name = config.NormName(name)
	if _, ok := m.lines[name]; !ok {
		m.lines[name] = line
		m.order = append(m.order, name)
	}
	return name
}

// Load reads a legacy lbd configuration file: YAML when the path ends
// in ".yaml", else the text format.
func Load(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read legacy config: %w", err)
	}
	if strings.HasSuffix(path, ".yaml") {
		return ParseYAML(path, data)
	}
	return ParseText(path, data), nil
}

var globalKeys = map[string]bool{"master": true, "heartbeat_path": true, "heartbeat_file": true,
	"tsig_key_prefix": true, "tsig_internal_key": true, "tsig_external_key": true, "snmpd_password": true, "dns_manager": true}

// ParseText reads the text format.
func ParseText(file string, data []byte) *Result {
	m := newModel()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		raw := strings.TrimRight(sc.Text(), "\r")
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if raw != strings.Join(f, " ") {
			m.note(n, "", false, "non-canonical blanks (the existing lbd splits on single spaces)")
		}
		switch {
		case (f[0] == "parameters" || f[0] == "clusters") && len(f) >= 3 && f[2] == "=":
			a := m.alias(f[1], n)
			if f[0] == "clusters" {
				if _, dup := m.clusters[a]; dup {
					m.note(n, a, false, "clusters given twice: the later line wins")
				}
				m.clusters[a] = append([]string(nil), f[3:]...)
				continue
			}
			if _, dup := m.params[a]; dup {
				m.note(n, a, false, "parameters given twice: the later line wins")
			}
			ps := map[string]value{}
			for _, kv := range f[3:] {
				k, v, ok := strings.Cut(kv, "#")
				if !ok || k == "" {
					m.note(n, a, true, "parameter %q is not key#value", kv)
					continue
				}
				ps[strings.ToLower(k)] = value{v, n}
			}
			m.params[a] = ps
		case f[0] == "parameters" || f[0] == "clusters":
			m.note(n, "", true, "%s line must be \"%s <alias> = ...\"", f[0], f[0])
		case len(f) >= 3 && f[1] == "=":
			if !globalKeys[f[0]] {
				m.note(n, "", false, "unknown key %q ignored", f[0])
				continue
			}
			m.globals[f[0]] = value{strings.Join(f[2:], " "), n}
		default:
			m.note(n, "", true, "unparsable line %q", truncateText(line, 60))
		}
	}
	return m.build(file)
}

// yamlKeys maps the YAML keys to the text ones.
var yamlKeys = map[string]string{"master": "master", "heartbeatpath": "heartbeat_path", "heartbeatfile": "heartbeat_file",
	"tsigkeyprefix": "tsig_key_prefix", "tsiginternalkey": "tsig_internal_key", "tsigexternalkey": "tsig_external_key",
	"snmppassword": "snmpd_password", "dnsmanager": "dns_manager"}

// ParseYAML reads the YAML format.
func ParseYAML(file string, data []byte) (*Result, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m := newModel()
	if len(doc.Content) == 0 {
		return m.build(file), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the document is not a mapping", file, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := strings.ToLower(k.Value)
		switch key {
		case "parameters", "clusters":
			if v.Kind != yaml.MappingNode {
				m.note(v.Line, "", true, "%s must map alias names to values", key)
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				an, av := v.Content[j], v.Content[j+1]
				a := m.alias(an.Value, an.Line)
				if key == "clusters" {
					if av.Kind != yaml.SequenceNode {
						m.note(av.Line, a, true, "clusters must be a list of host names")
						continue
					}
					var hosts []string
					for _, h := range av.Content {
						hosts = append(hosts, h.Value)
					}
					m.clusters[a] = hosts
					continue
				}
				if av.Kind != yaml.MappingNode {
					m.note(av.Line, a, true, "parameters must be a mapping")
					continue
				}
				ps := map[string]value{}
				for p := 0; p+1 < len(av.Content); p += 2 {
					ps[strings.ToLower(av.Content[p].Value)] = value{av.Content[p+1].Value, av.Content[p].Line}
				}
				m.params[a] = ps
			}
		default:
			tk, ok := yamlKeys[key]
			if !ok {
				m.note(k.Line, "", false, "unknown key %q ignored", k.Value)
				continue
			}
			m.globals[tk] = value{v.Value, k.Line}
		}
	}
	return m.build(file), nil
}

// build turns the model into the TOML configuration.
func (m *model) build(file string) *Result {
	cfg := config.Defaults()
	cfg.File = file
	g := func(k string) value { return m.globals[k] }
	cfg.LBD.Master = g("master").s
	cfg.LBD.Role = "auto"
	if cfg.LBD.Master == "" {
		m.note(0, "", true, "master is missing (the master's host name)")
	}
	// The existing lbd ticks every 10 s and the slave takes over after 600 s.
	cfg.LBD.Tick = tomlconf.Duration{Duration: 10 * time.Second}
	cfg.Heartbeat.Interval = tomlconf.Duration{Duration: 10 * time.Second}
	cfg.Heartbeat.StaleAfter = tomlconf.Duration{Duration: 600 * time.Second}
	if hf := g("heartbeat_file").s; hf != "" {
		if hp := g("heartbeat_path").s; hp != "" {
			cfg.Heartbeat.File = strings.TrimRight(hp, "/") + "/" + hf
		}
		if cfg.LBD.Master != "" {
			cfg.Heartbeat.URL = "http://" + cfg.LBD.Master + "/load-balancing/" + hf
		}
	}
	if dm := g("dns_manager"); dm.s != "" {
		server, err := server(dm.s)
		if err != nil {
			m.note(dm.line, "", true, "dns_manager: %v", err)
		}
		cfg.DNS.Server = server
	} else {
		m.note(0, "", true, "dns_manager is missing")
	}
	prefix := g("tsig_key_prefix").s
	if k := g("tsig_internal_key"); k.s != "" {
		cfg.DNS.InternalKey = &tsig.Spec{Name: prefix + "internal.", Algorithm: "hmac-md5", Secret: k.s}
	} else {
		m.note(0, "", true, "tsig_internal_key is missing")
	}
	if k := g("tsig_external_key"); k.s != "" {
		cfg.DNS.ExternalKey = &tsig.Spec{Name: prefix + "external.", Algorithm: "hmac-md5", Secret: k.s}
	}
	// docs/protocol.md §3.1/§3.5: user loadbalancing, HMAC-MD5, 10 s × 3 attempts
	// (the existing lbclient behind snmpd can take that long).
	pw := g("snmpd_password")
	cfg.SNMP = snmp.Config{Version: "3", Port: 161, User: "loadbalancing", AuthProtocol: "md5",
		AuthPassword: pw.s, Timeout: tomlconf.Duration{Duration: 10 * time.Second}, Retries: 2}
	if cfg.SNMP.AuthPassword == "" {
		m.note(0, "", true, "snmpd_password is missing")
	} else {
		// The existing lbd takes any password; lbd -check-config applies
		// RFC 3414's 8-character minimum. Say so now, with the same reason.
		for _, p := range cfg.SNMP.Problems() {
			m.note(pw.line, "", false, "snmpd_password: lbd -check-config will reject the converted file: snmp.%s: %s "+
				"(choose a longer password, here and in every member's createUser line)", p.Key, p.Msg)
		}
	}

	for _, a := range m.order {
		line := m.lines[a]
		ps, hasP := m.params[a]
		hosts := m.clusters[a]
		if !hasP || len(hosts) == 0 {
			m.note(line, a, false, "needs both parameters and a non-empty clusters entry: ignored (as the existing lbd does)")
			continue
		}
		al, ok := m.toAlias(a, ps, hosts)
		if ok {
			cfg.Aliases = append(cfg.Aliases, al)
		}
	}
	sort.SliceStable(m.problems, func(i, j int) bool { return m.problems[i].Line < m.problems[j].Line })
	return &Result{File: file, Config: &cfg, Problems: m.problems}
}

func (m *model) toAlias(a string, ps map[string]value, hosts []string) (config.Alias, bool) {
	al := config.Alias{Name: a, Members: hosts}
	ok := true
	bad := func(v value, format string, args ...any) {
		m.note(v.line, a, true, format+": alias left out, its DNS unchanged", args...)
		ok = false
	}
	line := m.lines[a]
	if v, has := ps["best_hosts"]; !has || v.s == "" || v.s == "0" {
		bad(value{line: line}, "best_hosts is missing or 0 (the existing lbd would empty the alias)")
	} else if n, err := strconv.Atoi(v.s); err != nil || n < -1 {
		bad(v, "best_hosts %q is not -1 or a positive number", v.s)
	} else {
		if n > len(hosts) {
			m.note(v.line, a, false, "best_hosts %d is more than the %d members: every usable member is published", n, len(hosts))
		}
		al.BestHosts = &n
	}
	switch v := ps["metric"]; strings.ToLower(v.s) {
	case "minimum", "minino", "cmsfrontier":
		fb := strings.ToLower(v.s)
		al.Fallback = &fb
	case "cmsweb":
		bad(v, "metric cmsweb is rejected (as by the existing lbd)")
	case "":
		bad(value{line: line}, "metric is missing (minimum, minino or cmsfrontier)")
	default:
		bad(v, "unknown metric %q (minimum, minino or cmsfrontier)", v.s)
	}
	if v, has := ps["ttl"]; has {
		n, err := strconv.Atoi(v.s)
		if err != nil || n < 0 {
			bad(v, "ttl %q is not a number of seconds", v.s)
		} else {
			if n < 60 {
				m.note(v.line, a, false, "ttl %d raised to 60 s (the existing lbd's minimum)", n)
				n = 60
			}
			al.TTL = &tomlconf.Duration{Duration: time.Duration(n) * time.Second}
		}
	} else {
		sixty := tomlconf.Duration{Duration: 60 * time.Second}
		al.TTL = &sixty
	}
	if v, has := ps["polling_interval"]; has && v.s != "" && v.s != "0" {
		n, err := strconv.Atoi(v.s)
		if err != nil || n < 0 {
			bad(v, "polling_interval %q is not a number of seconds", v.s)
		} else {
			al.PollingInterval = &tomlconf.Duration{Duration: time.Duration(n) * time.Second}
		}
	} else {
		m.note(m.lines[a], a, false, "polling_interval missing or 0: the default 5 minutes applies (the existing lbd polled every tick)")
	}
	switch v := ps["external"]; strings.ToLower(v.s) {
	case "", "no", "false":
	case "yes", "true":
		al.External = true
		if m.globals["tsig_external_key"].s == "" {
			bad(v, "external needs tsig_external_key")
		}
	default:
		bad(v, "external %q is not yes/no", v.s)
	}
	for k, v := range ps {
		switch k {
		case "best_hosts", "metric", "ttl", "polling_interval", "external", "behaviour", "statistics":
		default:
			m.note(v.line, a, false, "unknown parameter %q ignored", k)
		}
	}
	return al, ok
}

// server normalises dns_manager: host:port and "[v6]:port" (D12) as
// they are; a bare host name or address gets :53 (the text format's rule,
// applied to YAML too rather than failing later).
func server(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if ip := net.ParseIP(strings.Trim(s, "[]")); ip != nil || !strings.Contains(s, ":") {
		return net.JoinHostPort(strings.Trim(s, "[]"), "53"), nil
	}
	return s, fmt.Errorf("%q is not host[:port]", s)
}

// TOML renders the converted configuration, problems first as comments.
func (r *Result) TOML() (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Converted from the legacy lbd configuration %s by lbd -convert-legacy.\n", r.File)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "# %s\n", p)
	}
	b.WriteString("\n")
	if err := toml.NewEncoder(&b).Encode(r.Config); err != nil {
		return "", fmt.Errorf("render TOML: %w", err)
	}
	return b.String(), nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
