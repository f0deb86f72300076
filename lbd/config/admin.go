package config

import (
	"fmt"
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
	return c.path(c.LBD.AdminTokenFile)
}

func (c *Spec) validateAdmin() []error {
	c.LBD.tokens = nil
	if c.LBD.AdminTokenFile == "" {
		return nil
	}
	b, err := c.readKeyFile("lbd.admin_token_file", c.TokenPath())
	if err != nil {
		return []error{err}
	}
	tokens, _, err := ParseTokens(string(b))
	if err != nil {
		return []error{c.Errorf("lbd.admin_token_file", "%s: %v", c.TokenPath(), err)}
	}
	c.LBD.tokens = tokens
	return nil
}

// readKeyFile reads a file of secrets named by key (readSecretFile: a
// warning when others may read it), or returns the error located at key.
func (c *Spec) readKeyFile(key, path string) ([]byte, error) {
	b, warn, err := readSecretFile(path)
	if err != nil {
		return nil, c.Errorf(key, "%v", err)
	}
	if warn != "" {
		c.warn(key, "%s", warn)
	}
	return b, nil
}
