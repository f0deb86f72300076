package shard

import (
	"slices"
	"strings"
	"time"

	"github.com/lbd-project/lbd/heartbeat"
)

// Peer is another instance of the shard: its name (its [lbd] instance,
// which its leases and its heartbeat carry) and where its heartbeat is
// fetched.
type Peer struct {
	Instance string
	URL      string
}

// PeerState is one peer as last seen (for status).
type PeerState struct {
	Peer
	Live     bool
	LastBeat time.Time
	// Err is the last fetch's error ("" when it brought a beat).
	Err string
}

type peer struct {
	Peer
	follower heartbeat.Follower
	verifier heartbeat.Verifier
	err      string
}

// Peers is this instance's view of the other instances: a pure state
// machine, one heartbeat.Follower per peer. A peer is live while its
// newest beat is at most StaleAfter old. Feed it every fetch (Observe,
// or Accept for an authenticated beat); ask Live for the live set.
type Peers struct {
	StaleAfter time.Duration
	peers      map[string]*peer
}

// Set makes peers the configured peers at now: new ones start with a
// grace period (their start counts as a beat, heartbeat.Follower.Grace),
// so that an instance that just started does not take the zones of peers
// it has not fetched yet; peers no longer configured are forgotten.
func (p *Peers) Set(now time.Time, peers []Peer) {
	if p.peers == nil {
		p.peers = map[string]*peer{}
	}
	keep := make(map[string]bool, len(peers))
	for _, c := range peers {
		keep[c.Instance] = true
		if st, ok := p.peers[c.Instance]; ok {
			st.URL = c.URL
			continue
		}
		st := &peer{Peer: c}
		st.follower.Grace(now)
		p.peers[c.Instance] = st
	}
	for name := range p.peers {
		if !keep[name] {
			delete(p.peers, name)
		}
	}
	for _, st := range p.peers {
		st.follower.StaleAfter = p.StaleAfter
	}
}

// Observe records one fetch of instance's heartbeat made at now: the
// beat's time when err is nil. A failed fetch brings no news (the last
// beat keeps ageing).
func (p *Peers) Observe(instance string, now, beat time.Time, err error) {
	st := p.peers[instance]
	if st == nil {
		return
	}
	st.follower.Observe(now, beat, err == nil)
	st.err = ""
	if err != nil {
		st.err = err.Error()
	}
}

// Accept judges an authenticated beat body fetched from instance at now
// with key (heartbeat.Verifier: only the peer's own name, within
// StaleAfter of now, no replay) and observes it; a rejected body is no
// beat. The error wraps heartbeat.ErrRejected for a rejected body.
func (p *Peers) Accept(instance, body string, key []byte, now time.Time) error {
	st := p.peers[instance]
	if st == nil {
		return nil
	}
	st.verifier.Key, st.verifier.Instance, st.verifier.MaxSkew = key, instance, p.StaleAfter
	b, err := st.verifier.Accept(body, now)
	p.Observe(instance, now, b.Time, err)
	return err
}

// Live is the live set at now, sorted: self and every peer whose beat is
// fresh.
func (p *Peers) Live(self string, now time.Time) []string {
	live := []string{self}
	for name, st := range p.peers {
		if !st.follower.Stale(now) {
			live = append(live, name)
		}
	}
	slices.Sort(live)
	return slices.Compact(live)
}

// States lists every peer as seen at now, by name.
func (p *Peers) States(now time.Time) []PeerState {
	var out []PeerState
	for _, st := range p.peers {
		out = append(out, PeerState{Peer: st.Peer, Live: !st.follower.Stale(now), LastBeat: st.follower.LastBeat(), Err: st.err})
	}
	slices.SortFunc(out, func(a, b PeerState) int { return strings.Compare(a.Instance, b.Instance) })
	return out
}
