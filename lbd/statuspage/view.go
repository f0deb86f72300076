package statuspage

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lbd-project/lbd/lbd/choice"
	"github.com/lbd-project/lbd/lbd/history"
	"github.com/lbd-project/lbd/lbd/status"
)

// view is what the template renders: everything formatted beforehand.
type view struct {
	Snap      status.Snapshot
	Role      string
	RoleClass string
	Beat      string
	Window    string
	Windows   []windowLink
	Leases    []leaseRow
	Aliases   []aliasView
	Errors    int
}

type windowLink struct {
	Label, Query string
	Current      bool
}

type leaseRow struct {
	Server, Zone, Holder, Why string
	Writing                   bool
}

type aliasView struct {
	status.Alias
	ID       string
	Changed  string
	Servers  []serverRow
	Members  []memberView
	Timeline timeline
}

type serverRow struct {
	Name, Status string
	OK           bool
}

type memberView struct {
	status.Member
	Usable  bool
	Changed string
}

func build(snap status.Snapshot, hist *history.History, window time.Duration) view {
	if hist != nil && window > hist.Window() {
		window = hist.Window()
	}
	v := view{Snap: snap, Window: short(window)}
	switch {
	case snap.Master:
		v.Role, v.RoleClass = "master", "master"
	case snap.Writing:
		v.Role, v.RoleClass = "slave, writing (the master's heartbeat is stale)", "writing"
	default:
		v.Role, v.RoleClass = "slave, passive (the master writes)", "passive"
	}
	switch {
	case !snap.LastBeat.IsZero():
		v.Beat = ago(snap.At, snap.LastBeat) + " (" + snap.LastBeat.Format("15:04:05") + ")"
	case snap.Master:
		v.Beat = "— (this instance beats)"
	default:
		v.Beat = "none seen"
	}
	for _, d := range Windows {
		if hist != nil && d > hist.Window() {
			continue
		}
		v.Windows = append(v.Windows, windowLink{Label: short(d), Query: "?window=" + d.String(), Current: d == window})
	}
	for _, server := range slices.Sorted(maps.Keys(snap.Leases)) {
		zones := snap.Leases[server]
		for _, zone := range slices.Sorted(maps.Keys(zones)) {
			l := zones[zone]
			v.Leases = append(v.Leases, leaseRow{Server: server, Zone: zone, Holder: l.Holder, Why: l.Why, Writing: l.Writing})
		}
	}
	for _, a := range snap.Aliases {
		av := aliasView{Alias: a, ID: a.Name, Changed: since(snap.At, a.LastChange)}
		if a.Error != "" {
			v.Errors++
		}
		for _, name := range slices.Sorted(maps.Keys(a.Servers)) {
			st := a.Servers[name]
			av.Servers = append(av.Servers, serverRow{Name: name, Status: st, OK: st == "ok"})
		}
		for _, m := range a.Members {
			av.Members = append(av.Members, memberView{Member: m, Usable: choice.Usable(m.Load) && len(m.Addrs) > 0,
				Changed: since(snap.At, m.LastChange)})
		}
		av.Timeline = buildTimeline(a, hist, snap.At, window)
		v.Aliases = append(v.Aliases, av)
	}
	return v
}

// since is "15:04:05 (3m ago)", or "—" for a zero time.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("15:04:05") + " (" + ago(now, t) + ")"
}

// ago says how long before now t was, to a readable precision.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// short writes a duration as 24h, 1h30m, 15m, 1m30s (no zero parts).
func short(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}
