package override

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestTextRoundTrip(t *testing.T) {
	o := Override{Alias: "www.lb.example.org", Member: "node1.example.org", Action: Drain,
		Reason: "kernel upgrade, ticket #42 = 100% done?", Author: "alice ops", Since: now, Until: now.Add(2 * time.Hour)}
	assert.NotContains(t, o.Text()[len(prefix):], "  ")
	got, ok := Parse(o.Alias, o.Text())
	require.True(t, ok, o.Text())
	assert.Equal(t, o.Reason, got.Reason)
	assert.Equal(t, o.Author, got.Author)
	assert.True(t, got.Since.Equal(o.Since) && got.Until.Equal(o.Until))
	assert.Equal(t, o.Member, got.Member)
	for _, bad := range []string{"", "hello", prefix + "action=drain", prefix + "action=reboot member=a until=1", prefix + "action=drain member=a until=x"} {
		_, ok := Parse("a", bad)
		assert.False(t, ok, bad)
	}
}

func TestSet(t *testing.T) {
	a := Override{Member: "a", Action: Drain, Since: now, Until: now.Add(time.Hour)}
	b := Override{Member: "b", Action: Drain, Since: now, Until: now.Add(time.Second)}
	s, bad := ParseSet("x", []string{a.Text(), "junk", b.Text()})
	assert.Equal(t, 1, bad)
	require.Len(t, s, 2)
	assert.Len(t, s.Active(now.Add(2*time.Second)), 1, "b expired by itself")
	longer := a
	longer.Until = now.Add(5 * time.Hour)
	s = s.Apply([]Edit{{Set: &longer}, {Clear: "B"}})
	require.Len(t, s, 1, "one override per member; clear is case-insensitive")
	got, ok := s.For("A")
	require.True(t, ok)
	assert.True(t, got.Until.Equal(now.Add(5*time.Hour)))
	assert.Equal(t, []string{longer.Text()}, s.Texts())
}
