// Package legacy reads the configuration formats of the existing CERN
// lbclient (docs/protocol.md §5): a directory holding lbaliases, a default
// lbclient.conf and per-alias lbclient.conf.<alias> files.
//
// Load reads a directory into an lbclient.Plan (the declarative
// description a TOML configuration also produces) and compiles it with
// lbclient.Compile, so that the same evaluator, pass modes and agent serve
// both formats; the plan composes its answer with the legacy rule
// (lbclient.PerMapping: one mapping → INTEGER). Load never fails: every
// problem is in Config.Problems, and a configuration error makes the
// affected mapping report a negative code (ConfigError, or the code of the
// check whose arguments are invalid). ParseLine and ParseFile parse single
// lines and files; Convert prints the equivalent TOML configuration.
//
// Which keywords exist, their codes and whether they take arguments come
// from the checks registry (checks.LookupLegacy).
//
// This package does not log; Config.Log writes the problems to a logger the
// caller gives.
package legacy
