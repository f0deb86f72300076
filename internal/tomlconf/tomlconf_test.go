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

func TestLineOfArrayElement(t *testing.T) {
	data := []byte(`[[alias]]
name = "a"
members = ["x", "y"]
[[alias]]
name = "b"
members = [
  "m0",
  # a comment, "not, an element"
  "m1", "m2",

  "m3",
]
checks = [ { type = "nologin" },
  { type = "command", data = "a, b" } ]
`)
	d := &Doc{File: "f", Data: data}
	for key, want := range map[string]int{
		"alias[0].members[1]": 3,
		"alias[1].members[0]": 7,
		"alias[1].members[1]": 9,
		"alias[1].members[2]": 9,
		"alias[1].members[3]": 11,
		"alias[1].checks[1]":  14,
		"alias[1].members":    6,
	} {
		if got := d.Line(key); got != want {
			t.Errorf("%s: line %d, want %d", key, got, want)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	var v struct {
		A any `toml:"a"`
	}
	deep := "a = " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n"
	_, err := Decode("deep.toml", []byte(deep), &v)
	if err == nil || !strings.Contains(err.Error(), "deep.toml:1: nested deeper than 32 levels") {
		t.Fatalf("deep: %v", err)
	}
	deepTables := "a = " + strings.Repeat("{ b = ", 40) + "1" + strings.Repeat(" }", 40) + "\n"
	if _, err := Decode("t.toml", []byte(deepTables), &v); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("deep tables: %v", err)
	}
	big := "a = \"" + strings.Repeat("x", MaxSize) + "\"\n"
	if _, err := Decode("big.toml", []byte(big), &v); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("big: %v", err)
	}
	ok := "a = [[1, 2], [\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", '{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{'] ] # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
	var m map[string]any
	if _, err := Decode("ok.toml", []byte(ok), &m); err != nil {
		t.Fatalf("brackets in strings and comments count for nothing: %v", err)
	}
}
