package legacyconf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLegacyYAML: any YAML either converts (with problems reported) or
// gives an error; nothing panics, and a conversion renders as TOML.
func FuzzLegacyYAML(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "lbd.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("master: m\nclusters:\n  a: [h1, h2]\nparameters:\n  a: {best_hosts: 1, metric: minino}\n"))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseYAML("fuzz.yaml", data)
		if err != nil {
			return
		}
		if _, err := r.TOML(); err != nil {
			t.Fatal(err)
		}
	})
}
