// Package render writes files from the membership lbd decides: a proxy's
// configuration (an HAProxy backend, …) rendered from a Go text/template
// after every cycle, checked by a command before it replaces the old file
// and followed by a reload command ([[render]] in lbd.toml,
// docs/operations.md "Rendering proxy configuration").
//
// The parts:
//
//   - Data (data.go) is what a template sees: every alias with its
//     published, usable and configured members. FromSnapshot builds it from
//     the daemon's status.Snapshot; it is a pure function, sorted so that
//     the same membership always gives the same Data.
//   - Target (render.go) is one [[render]] section compiled: the parsed
//     template, the output path, the check and reload commands.
//     Target.Render executes the template to bytes; Plan compares them
//     with the current file (pure); Target.Apply does the I/O: temporary
//     file in the output's directory, check command, fsync and rename,
//     reload command.
//   - Command (command.go) runs check_cmd and reload_cmd with /bin/sh -c,
//     a timeout that kills the command's whole process group, and its
//     output (bounded) in the error.
//
// The package returns wrapped errors (*Error, naming the output and the
// stage that failed) and does not log: the daemon logs, counts and audits.
package render
