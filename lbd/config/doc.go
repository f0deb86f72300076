// Package config is lbd's configuration: the TOML file as written (Spec:
// defaults, decode, unknown keys rejected, every error located as
// file:line: key), its validation and warnings, and its compilation into the
// value the daemon runs on (Compiled: every alias's effective settings, the
// TSIG keys, one DNS client per server and view, the ownership text and the
// lease lifetime). A reload swaps in a new Compiled only when the file
// compiles (docs/design.md §4).
package config
