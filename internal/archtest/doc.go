// Package archtest holds only tests: the rules the build enforces on the
// repository itself. The import rules of docs/architecture.md ("Import
// rules"), checked on the module's import graph from `go list -deps`; the
// wording rule of its "Errors" (library literals name no jitssh command
// or flag, the names read from cli.NewRoot's command tree); and what may
// be tracked by git (no compiled binaries, nothing over 1 MB outside
// testdata). It is test support: production code never imports it.
package archtest
