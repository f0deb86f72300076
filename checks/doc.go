// Package checks holds the member health checks and load sources of the
// lbclient agent, one file per check, all registered in one explicit map
// (registry.go).
//
// Every check validates its arguments when it is built (at config load) and
// returns a Result with a reason when it runs. Checks read files under
// Env.Root (default "/"), so tests point them at fixture trees. Codes follow
// COMPAT.md §5.3/§5.7: a failed check reports -Code as the load.
//
// This package does not log; callers log Result.Reason with their own fields.
package checks
