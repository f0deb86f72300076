// Package tomlconf is the strict TOML loading shared by the lbd and lbclient
// configurations: decode over defaults, reject unknown keys, and report every
// error with the file, line and key it concerns.
package tomlconf
