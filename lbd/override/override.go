// Package override is lbd's overrides: an operator's decision about one
// member of one alias that wins over its load (a drain), with a reason, an
// author, a start and an expiry (docs/design.md §10).
//
// Overrides live in the zone, as TXT records in the alias's metadata RRset
// at _lbd.<alias>, next to its ownership record (one record per override),
// so that every lbd instance of the group reads the same ones: a slave that
// takes over applies them, and they survive a restart. Every write of the
// RRset requires it to be as read (an RFC 2136 §2.4.2 prerequisite), so two
// writers' edits never cross. The record's text is
//
//	lbd-override v=1 action=drain member=<host> since=<unix> until=<unix> author=<a> reason=<text>
//
// with author and reason percent-encoded (RFC 3986 §2.1) so that fields
// never contain a blank. Everything here is pure: parsing, formatting,
// expiry and edits take values and now.
package override

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const prefix = "lbd-override v=1 "

// Drain is the one action: the member is taken out of the alias.
const Drain = "drain"

// Override is one member's override in one alias.
type Override struct {
	Alias  string    `json:"alias"`
	Member string    `json:"member"`
	Action string    `json:"action"`
	Reason string    `json:"reason"`
	Author string    `json:"author"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// Active reports whether o is in force at now.
func (o Override) Active(now time.Time) bool { return now.Before(o.Until) }

// Text is the record's text.
func (o Override) Text() string {
	return fmt.Sprintf("%saction=%s member=%s since=%d until=%d author=%s reason=%s", prefix, o.Action, o.Member,
		o.Since.Unix(), o.Until.Unix(), url.PathEscape(o.Author), url.PathEscape(o.Reason))
}

// Parse reads one record of alias; ok is false for text that is not an
// override.
func Parse(alias, text string) (o Override, ok bool) {
	rest, found := strings.CutPrefix(text, prefix)
	if !found {
		return o, false
	}
	o.Alias = alias
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		var err error
		switch k {
		case "action":
			o.Action = v
		case "member":
			o.Member = v
		case "since":
			o.Since, err = unix(v)
		case "until":
			o.Until, err = unix(v)
		case "author":
			o.Author, err = url.PathUnescape(v)
		case "reason":
			o.Reason, err = url.PathUnescape(v)
		}
		if err != nil {
			return o, false
		}
	}
	return o, o.Action == Drain && o.Member != "" && !o.Until.IsZero()
}

func unix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0), err
}

// Set is an alias's overrides, at most one per member.
type Set []Override

// ParseSet reads the TXT records of an alias's override name; records that
// are not overrides are left out (and counted in bad).
func ParseSet(alias string, texts []string) (s Set, bad int) {
	for _, t := range texts {
		if o, ok := Parse(alias, t); ok {
			s = s.With(o)
		} else {
			bad++
		}
	}
	return s, bad
}

// With returns s with o replacing any override of the same member.
func (s Set) With(o Override) Set {
	out := s.Without(o.Member)
	out = append(out, o)
	slices.SortFunc(out, func(a, b Override) int { return cmp.Compare(a.Member, b.Member) })
	return out
}

// Without returns s without member's override.
func (s Set) Without(member string) Set {
	var out Set
	for _, o := range s {
		if !strings.EqualFold(o.Member, member) {
			out = append(out, o)
		}
	}
	return out
}

// Active returns the overrides in force at now (expired ones dropped).
func (s Set) Active(now time.Time) Set {
	var out Set
	for _, o := range s {
		if o.Active(now) {
			out = append(out, o)
		}
	}
	return out
}

// For returns member's override, if any.
func (s Set) For(member string) (Override, bool) {
	for _, o := range s {
		if strings.EqualFold(o.Member, member) {
			return o, true
		}
	}
	return Override{}, false
}

// Texts are the records that store s.
func (s Set) Texts() []string {
	out := make([]string, 0, len(s))
	for _, o := range s {
		out = append(out, o.Text())
	}
	slices.Sort(out)
	return out
}

// Edit is a change an operator asked for: Set adds or replaces an
// override, Clear removes a member's.
type Edit struct {
	Set   *Override
	Clear string // member
}

// Apply returns s after the edits, in order.
func (s Set) Apply(edits []Edit) Set {
	for _, e := range edits {
		switch {
		case e.Set != nil:
			s = s.With(*e.Set)
		case e.Clear != "":
			s = s.Without(e.Clear)
		}
	}
	return s
}
