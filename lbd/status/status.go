// Package status is what lbd shows of itself to people and tools: the
// snapshot of /status, the status page and the metrics (per alias and
// member: the load and what it means in words, published or not and why),
// and nothing else. The daemon builds it (lbd.Daemon.Snapshot).
package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/lbd-project/lbd/checks"
	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/health"
	"github.com/lbd-project/lbd/lbd/override"
)

// Snapshot is the daemon's state for people and tools: /status, the status
// page and the metrics read it. It is a copy: holding it holds no lock.
type Snapshot struct {
	At       time.Time `json:"at"`
	Host     string    `json:"host"`
	Instance string    `json:"instance"`
	Master   bool      `json:"master"`
	// Writing: this instance may write DNS now (a master always; a slave
	// while the master's heartbeat is stale).
	Writing  bool      `json:"writing"`
	Fencing  bool      `json:"fencing"`
	LastBeat time.Time `json:"master_last_beat,omitzero"`
	// Authenticated: a heartbeat secret is configured; Counter is the
	// highest authenticated beat counter accepted (slave).
	Authenticated bool    `json:"heartbeat_authenticated"`
	Counter       uint64  `json:"master_beat_counter,omitempty"`
	Aliases       []Alias `json:"aliases"`
	// Leases is, per DNS server (and view) and zone, the last lease
	// decision.
	Leases map[string]map[string]Lease `json:"leases,omitempty"`
	// Servers is each DNS server's (and view's) health.
	Servers map[string]health.Server `json:"servers"`
	// Push counts push notifications.
	Push PushStats `json:"push"`
	// Register counts member self-registrations.
	Register RegisterStats `json:"register"`
	// Shard is set when this instance shares the zones with peers
	// ([lbd] peers, docs/design.md §9.7).
	Shard *Shard `json:"shard,omitempty"`
}

// Shard is this instance's view of the instances sharing the zones.
type Shard struct {
	// Live are the instances taken as live (this one and every peer whose
	// heartbeat is fresh), sorted: the zones are assigned among them.
	Live  []string    `json:"live"`
	Peers []ShardPeer `json:"peers"`
	// Zones are every zone of the configuration, sorted, with its owner
	// and its lease in each view as last seen.
	Zones []ShardZone `json:"zones"`
}

// ShardPeer is one peer.
type ShardPeer struct {
	Instance string    `json:"instance"`
	URL      string    `json:"url"`
	Live     bool      `json:"live"`
	LastBeat time.Time `json:"last_beat,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// ShardZone is one zone: who owns it under the live set, whether that is
// this instance, and its lease per DNS server (and view).
type ShardZone struct {
	Zone   string           `json:"zone"`
	Owner  string           `json:"owner"`
	Mine   bool             `json:"mine"`
	Leases map[string]Lease `json:"leases,omitempty"`
}

// Lease is one zone's lease as this instance last saw it.
type Lease struct {
	Writing bool   `json:"writing"`
	Holder  string `json:"holder,omitempty"`
	Why     string `json:"why,omitempty"`
}

// Alias is one alias.
type Alias struct {
	Name string `json:"name"`
	Zone string `json:"zone"`
	// Hosts and Addrs are what the last decision publishes.
	Hosts      []string  `json:"hosts"`
	Addrs      []string  `json:"addresses"`
	Fallback   string    `json:"fallback,omitempty"`
	Usable     int       `json:"usable_members"`
	Configured int       `json:"configured_members"`
	LastEval   time.Time `json:"last_evaluation,omitzero"`
	LastWrite  time.Time `json:"last_write,omitzero"`
	// LastChange is when the published hosts last changed.
	LastChange time.Time `json:"last_change,omitzero"`
	Error      string    `json:"error,omitempty"`
	// Servers maps each DNS server (and external view) to "ok" or its error.
	Servers map[string]string `json:"dns_servers,omitempty"`
	Members []Member          `json:"members"`
	// Overrides are the overrides in force (drains).
	Overrides []override.Override `json:"overrides,omitempty"`
	// StaleMembers counts the Stale members.
	StaleMembers int `json:"stale_members"`
}

// Member is one member of an alias at the last evaluation.
type Member struct {
	Host string `json:"host"`
	Load int    `json:"load"`
	// Meaning says what Load means in words (docs/protocol.md §2).
	Meaning   string   `json:"meaning"`
	Addrs     []string `json:"addresses,omitempty"`
	Published bool     `json:"published"`
	// Why says why the member is or is not published.
	Why string `json:"why"`
	// LastChange is when the member last entered or left the alias.
	LastChange time.Time `json:"last_change,omitzero"`
	// Override describes the override in force for the member, if any.
	Override string `json:"override,omitempty"`
	// Stale is set when the member stays published with a load that has
	// not changed for [lbd] stale_load_after (a stuck metric?); LoadSince
	// is when it took that load.
	Stale     bool      `json:"stale,omitempty"`
	LoadSince time.Time `json:"load_since,omitzero"`
	// RegisteredUntil is, for a member that registered itself, when its
	// registration expires without renewal.
	RegisteredUntil time.Time `json:"registered_until,omitzero"`
}

// PushStats counts push notifications (for status and metrics).
type PushStats struct {
	Accepted    uint64 `json:"accepted"`     // aliases made due
	Rejected    uint64 `json:"rejected"`     // from a source not allowed
	Coalesced   uint64 `json:"coalesced"`    // within push_min_interval of the alias's last push: one evaluation later
	RateLimited uint64 `json:"rate_limited"` // over push_max_rate: counted, not acted on
}

// RegisterStats counts member self-registrations (for status and
// metrics).
type RegisterStats struct {
	Registered int               `json:"registered"` // registrations in force
	Accepted   uint64            `json:"accepted"`   // registrations and renewals accepted
	Refused    map[string]uint64 `json:"refused"`    // by reason (package lbd/registry)
}

// MemberWhy explains a member's place in the decision.
func MemberWhy(m Member, d choice.Decision) string {
	usable := choice.Usable(m.Load) && len(m.Addrs) > 0
	switch {
	case m.Published && usable:
		return "published: among the best"
	case m.Published && d.Fallback != "":
		return "published by the fallback " + string(d.Fallback) + ": no member is usable"
	case m.Published:
		return "published"
	case d.Keep:
		return "not changed: no member is usable and the fallback keeps DNS as it is"
	case usable:
		return "usable, not among the best"
	}
	return "not usable: " + LoadMeaning(m.Load)
}

// LoadMeaning says in words what a member's load for an alias means: an
// agent's answer (docs/protocol.md §2, §5.3) or one of lbd's own codes.
func LoadMeaning(load int) string {
	switch {
	case choice.Usable(load):
		return fmt.Sprintf("usable, load %d (lower is better)", load)
	case load == choice.LoadNoAnswer:
		return "no answer: timeout, SNMP error, or the alias missing from the agent's reply"
	case load == choice.LoadNoAddress:
		return "the member's name resolves to no address"
	case load == choice.LoadDrained:
		return "drained by an operator (an override in force)"
	case load > choice.MaxUsable:
		return fmt.Sprintf("load %d above the usable range", load)
	case load == 0:
		return "0: the agent takes the member out"
	case load == -100:
		return "-100: the agent is not ready (first evaluation not finished)"
	case load == -101:
		return "-101: a check or load of the agent hung"
	case load == -102:
		return "-102: the agent's configuration is broken"
	}
	if names := checks.NamesForCode(-load); len(names) > 0 {
		return fmt.Sprintf("%d: failed %s", load, strings.Join(names, " / "))
	}
	return fmt.Sprintf("%d: the agent takes the member out", load)
}
