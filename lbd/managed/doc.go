// Package managed keeps the names an lbd instance group manages: every
// alias of the configuration, plus the names of aliases since removed whose
// records were not yet deleted from every view (docs/design.md §9). With
// [lbd] state_dir the set survives a restart (managed.json, written
// atomically); without it, a running daemon still notices the aliases a
// reload removes.
package managed
