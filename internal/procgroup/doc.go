// Package procgroup runs a command in a process group of its own, so that
// the command and every child it started are killed together when its
// context ends (checks' commands, [[render]] check and reload commands).
package procgroup
