package lbclient

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseConfig: any lbclient TOML either compiles or gives an error;
// nothing panics (issue 12). Seeds: the example configuration.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "etc", "lbclient.toml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[agent]\nlisten = [\"127.0.0.1:1161\"]\ncommunity = \"c\"\n[[alias]]\nname = \"a\"\nchecks = [\"nologin\", { type = \"command\", data = \"true\" }]\n"))
	f.Add([]byte("[default]\nloads = [{ type = \"constant\", data = \"x\" }]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse("fuzz.toml", data)
	})
}
