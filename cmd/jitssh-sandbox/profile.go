//go:build jitsshprofile

package main

// Built only with -tags jitsshprofile (performance work, docs/benchmarks.md):
// JITSSH_CPUPROFILE=FILE writes a CPU profile of the sandbox's whole run
// to FILE (stopped by SIGINT or SIGTERM, as the sandbox is).

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func init() {
	path := os.Getenv("JITSSH_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jitssh-sandbox: cpu profile:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "jitssh-sandbox: cpu profile:", err)
		return
	}
	stopProfile = func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
