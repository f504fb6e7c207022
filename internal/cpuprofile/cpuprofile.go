//go:build !jitsshprofile

// Package cpuprofile is the CPU profile a program built with
// -tags jitsshprofile writes (performance work, docs/benchmarks.md):
// JITSSH_CPUPROFILE=FILE profiles the whole run into FILE, "%p" in FILE
// standing for the process id (jitssh ssh's proxies inherit the variable,
// and each writes its own). Without the tag, Start does nothing.
package cpuprofile

// Start begins the profile JITSSH_CPUPROFILE asks for and returns what
// ends it; without the build tag, nothing.
func Start(program string) (stop func()) { return func() {} }
