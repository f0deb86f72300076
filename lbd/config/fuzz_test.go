package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any file either compiles or gives an error; nothing panics,
// and a file that compiles compiles again to the same aliases (issue 12).
// Seeds: the example configurations and the tests' minimal one.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"lbd.toml", "lbd-embedded.toml"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "etc", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(minimal))
	f.Add([]byte("[lbd]\nrole = \"master\"\n[[alias]]\nname = \"a\"\nmembers = [\"x\", \"x\"]\n"))
	f.Add([]byte("a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		again, err := Parse("fuzz.toml", data)
		if err != nil || len(again.Params) != len(c.Params) {
			t.Fatalf("compiled once, not twice: %v", err)
		}
	})
}
