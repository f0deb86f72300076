package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// daemonSpec says which local sockets satisfy a socket check.
type daemonSpec struct {
	ports     []uint16
	protocols []string     // "tcp", "udp"
	families  []int        // 4, 6
	hosts     []netip.Addr // empty: any local address
}

// socket table files and what they hold.
var procNetTables = []struct {
	path     string
	protocol string
	family   int
}{
	{"/proc/net/tcp", "tcp", 4},
	{"/proc/net/tcp6", "tcp", 6},
	{"/proc/net/udp", "udp", 4},
	{"/proc/net/udp6", "udp", 6},
}

// newPortDaemon builds sshdaemon, webdaemon, ftpdaemon and gridftpdaemon:
// something listens on the port (TCP or UDP, IPv4 or IPv6).
func newPortDaemon(port uint16, code int) Factory {
	return func(spec Spec) (Check, error) {
		if spec.Data != "" {
			return nil, fmt.Errorf("takes no arguments, got %q", spec.Data)
		}
		d := daemonSpec{ports: []uint16{port}, protocols: []string{"tcp", "udp"}, families: []int{4, 6}}
		return daemonCheck{spec: d, code: code}, nil
	}
}

// newDaemon builds "daemon <json>": see doc.go and ParseDaemonJSON.
func newDaemon(spec Spec) (Check, error) {
	d, err := parseDaemonJSON(spec.Data)
	if err != nil {
		return nil, err
	}
	return daemonCheck{spec: d, code: CodeDaemon}, nil
}

// parseDaemonJSON parses {"port": .., "protocol": .., "ip": .., "host": ..};
// each value is a scalar or a list. As in the legacy agent, the first
// {...} of data is the JSON (text before and after it is ignored). Unknown
// keys are ignored, and for a duplicate key the last one wins
// (encoding/json), as the legacy agent only warns about them.
func parseDaemonJSON(data string) (daemonSpec, error) {
	var d daemonSpec
	var raw map[string]json.RawMessage
	start := strings.IndexByte(data, '{')
	if start < 0 {
		return d, fmt.Errorf("bad JSON %q: want an object {\"port\": ...}", data)
	}
	if err := json.NewDecoder(strings.NewReader(data[start:])).Decode(&raw); err != nil {
		return d, fmt.Errorf("bad JSON %q: %v", data, err)
	}
	if _, ok := raw["port"]; !ok { // mandatory
		return d, fmt.Errorf("missing \"port\" in %s", data)
	}
	steps := []func(*daemonSpec, map[string]json.RawMessage) error{daemonPorts, daemonProtocols, daemonFamilies, daemonHosts}
	for _, step := range steps {
		if err := step(&d, raw); err != nil {
			return d, err
		}
	}
	return d, nil
}

// daemonPorts reads "port" (present): integers or numeric strings.
func daemonPorts(d *daemonSpec, raw map[string]json.RawMessage) error {
	items, err := jsonScalarOrList(raw["port"])
	if err != nil {
		return fmt.Errorf("port: %v", err)
	}
	for _, it := range items {
		s := string(it)
		if len(it) > 0 && it[0] == '"' {
			if err := json.Unmarshal(it, &s); err != nil {
				return fmt.Errorf("port %s: %v", it, err)
			}
			s = strings.TrimSpace(s)
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %s: want an integer in 1..65535", it)
		}
		d.ports = appendUnique(d.ports, uint16(n))
	}
	return nil
}

// daemonProtocols reads "protocol" (default both).
func daemonProtocols(d *daemonSpec, raw map[string]json.RawMessage) error {
	strs, err := jsonStrings(raw, "protocol")
	if err != nil {
		return err
	}
	for _, s := range strs {
		switch p := strings.ToLower(strings.TrimSpace(s)); p {
		case "tcp", "udp":
			d.protocols = appendUnique(d.protocols, p)
		default:
			return fmt.Errorf("protocol %q: want tcp or udp", s)
		}
	}
	if strs == nil {
		d.protocols = []string{"tcp", "udp"}
	}
	return nil
}

// daemonFamilies reads "ip" (default both).
func daemonFamilies(d *daemonSpec, raw map[string]json.RawMessage) error {
	strs, err := jsonStrings(raw, "ip")
	if err != nil {
		return err
	}
	for _, s := range strs {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "ipv4", "4":
			d.families = appendUnique(d.families, 4)
		case "ipv6", "6":
			d.families = appendUnique(d.families, 6)
		default:
			return fmt.Errorf("ip %q: want ipv4, 4, ipv6 or 6", s)
		}
	}
	if strs == nil {
		d.families = []int{4, 6}
	}
	return nil
}

// daemonHosts reads "host" (default any).
func daemonHosts(d *daemonSpec, raw map[string]json.RawMessage) error {
	strs, err := jsonStrings(raw, "host")
	if err != nil {
		return err
	}
	for _, s := range strs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("host %q: want a literal IP address", s)
		}
		// A host of a family "ip" leaves out is accepted, as the existing
		// lbclient does: only the socket tables of the families in "ip" are
		// read, so such a host can only match an IPv4-mapped address there
		// (docs/protocol.md §5.3, Socket checks).
		d.hosts = appendUnique(d.hosts, a.Unmap().WithZone(""))
	}
	if strs != nil && len(d.hosts) == 0 {
		return fmt.Errorf("host: empty list")
	}
	return nil
}

func addrFamily(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

func appendUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// jsonScalarOrList returns the elements of a list, or the value itself.
// An empty list is an error.
func jsonScalarOrList(v json.RawMessage) ([]json.RawMessage, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("empty list")
		}
		for i := range items {
			items[i] = bytes.TrimSpace(items[i])
		}
		return items, nil
	}
	return []json.RawMessage{v}, nil
}

// jsonStrings reads key as a string or a list of strings; nil if absent.
func jsonStrings(raw map[string]json.RawMessage, key string) ([]string, error) {
	v, ok := raw[key]
	if !ok {
		return nil, nil
	}
	items, err := jsonScalarOrList(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		var n json.Number
		if err := json.Unmarshal(it, &s); err == nil {
			out = append(out, s)
		} else if err := json.Unmarshal(it, &n); err == nil {
			out = append(out, n.String()) // "ip": 4
		} else {
			return nil, fmt.Errorf("%s %s: want a string", key, it)
		}
	}
	return out, nil
}

type daemonCheck struct {
	spec daemonSpec
	code int
}

// Run scans the selected socket tables for a local socket on a wanted port:
// TCP in state LISTEN, UDP bound and unconnected (state 07). Remote ends of
// connections never count (D15). With hosts, the local address must be one
// of them, or the wildcard address (0.0.0.0 / ::) of the same family,
// which accepts connections on every address. A match in any readable table
// passes; no match with an unreadable or malformed table is a hard failure.
func (c daemonCheck) Run(ctx context.Context, env Env) Result {
	var problems []string
	for _, t := range procNetTables {
		if !slices.Contains(c.spec.protocols, t.protocol) || !slices.Contains(c.spec.families, t.family) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Result{Code: c.code, Hard: true, Reason: err.Error()}
		}
		b, err := os.ReadFile(env.Path(t.path))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		entries, err := parseProcNet(string(b))
		if err != nil {
			problems = append(problems, t.path+": "+err.Error())
		}
		for _, e := range entries {
			if c.matches(t.protocol, e) {
				return Result{OK: true, Code: c.code, Reason: fmt.Sprintf("%s listener on %s", t.protocol, e.Local)}
			}
		}
	}
	if len(problems) > 0 {
		return Result{Code: c.code, Hard: true, Reason: "socket tables unreadable: " + strings.Join(problems, "; ")}
	}
	return Result{Code: c.code, Reason: "no listener " + c.spec.String()}
}

func (c daemonCheck) matches(protocol string, e sockEntry) bool {
	want := sockStateListen
	if protocol == "udp" {
		want = sockStateClose
	}
	if e.State != want || !slices.Contains(c.spec.ports, e.Local.Port()) {
		return false
	}
	if len(c.spec.hosts) == 0 {
		return true
	}
	local := e.Local.Addr().Unmap()
	for _, h := range c.spec.hosts {
		if local == h || (local.IsUnspecified() && local.Is4() == h.Is4()) {
			return true
		}
	}
	return false
}

func (d daemonSpec) String() string {
	ports := make([]string, len(d.ports))
	for i, p := range d.ports {
		ports[i] = strconv.Itoa(int(p))
	}
	sort.Strings(ports)
	s := fmt.Sprintf("port %s %s ipv%v", strings.Join(ports, ","), strings.Join(d.protocols, "/"), d.families)
	if len(d.hosts) > 0 {
		hs := make([]string, len(d.hosts))
		for i, h := range d.hosts {
			hs[i] = h.String()
		}
		s += " host " + strings.Join(hs, ",")
	}
	return s
}
