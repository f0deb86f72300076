package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The admin API's tokens ([lbd] admin_token_file, docs/operations.md): one
// token per line, optionally "name:token" (the name becomes the author of
// what the token does); blank lines and lines starting with '#' are
// skipped. A client (lbd -drain) sends the first line's token.

// minTokenLen is the shortest token accepted: guessing must not be easy.
const minTokenLen = 16

// AdminTokens maps each accepted token to its name ("" when the line has
// none); nil when the admin API is off (no admin_token_file).
func (c *Spec) AdminTokens() map[string]string { return c.LBD.tokens }

// ParseTokens reads the lines of a token file.
func ParseTokens(text string) (tokens map[string]string, first string, err error) {
	tokens = map[string]string{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, tok, found := strings.Cut(line, ":")
		if !found {
			name, tok = "", line
		}
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		if len(tok) < minTokenLen {
			return nil, "", fmt.Errorf("line %d: a token must be at least %d characters", n+1, minTokenLen)
		}
		if first == "" {
			first = tok
		}
		tokens[tok] = name
	}
	if len(tokens) == 0 {
		return nil, "", fmt.Errorf("no token")
	}
	return tokens, first, nil
}

// TokenPath is admin_token_file, relative to the configuration file.
func (c *Spec) TokenPath() string {
	p := c.LBD.AdminTokenFile
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

func (c *Spec) validateAdmin() []error {
	e := &collector{c: c}
	c.LBD.tokens = nil
	if c.LBD.AdminTokenFile == "" {
		return nil
	}
	b, warn, err := readSecretFile(c.TokenPath())
	if err != nil {
		e.bad("lbd.admin_token_file", "%v", err)
		return e.errs
	}
	if warn != "" {
		c.warn("lbd.admin_token_file", "%s", warn)
	}
	tokens, _, err := ParseTokens(string(b))
	if err != nil {
		e.bad("lbd.admin_token_file", "%s: %v", c.TokenPath(), err)
		return e.errs
	}
	c.LBD.tokens = tokens
	return nil
}
