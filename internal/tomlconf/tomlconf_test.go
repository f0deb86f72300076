package tomlconf

import (
	"strings"
	"testing"
)

type sample struct {
	Top struct {
		Name string `toml:"name"`
		Key  struct {
			Secret string `toml:"secret"`
		} `toml:"key"`
	} `toml:"top"`
	Alias []struct {
		Name string `toml:"name"`
		TTL  int    `toml:"ttl"`
	} `toml:"alias"`
}

const doc = `# comment
[top]
name = "x"
key = { secret = "abc" }

[[alias]]
name = "a"
ttl = 1

[[alias]]
name = "b"
ttl = 2
`

func TestLine(t *testing.T) {
	var s sample
	d, err := Decode("f.toml", []byte(doc), &s)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{
		"top.name":       3,
		"top.key.secret": 4,
		"alias[0].ttl":   8,
		"alias[1].ttl":   12,
		"alias[1]":       10,
		"alias[1].name":  11,
		"nothing":        0,
	} {
		if got := d.Line(key); got != want {
			t.Errorf("Line(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestUnknownKey(t *testing.T) {
	var s sample
	_, err := Decode("f.toml", []byte(doc+"bogus = 1\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "f.toml:13: key alias.bogus: unknown key") {
		t.Fatalf("err = %v", err)
	}
	_, err = Decode("f.toml", []byte("[top]\nname = \n"), &s)
	if err == nil || !strings.Contains(err.Error(), "f.toml:2") {
		t.Fatalf("parse err = %v", err)
	}
}

func TestTypeMismatchNamesLineAndKey(t *testing.T) {
	var s sample
	_, err := Decode("f.toml", []byte("[[alias]]\nname = \"a\"\nttl = \"two\"\n"), &s)
	if err == nil || !strings.HasPrefix(err.Error(), "f.toml:3: key alias.ttl: incompatible types") {
		t.Fatalf("err = %v", err)
	}
}
