//go:build jitsshprofile

package cpuprofile

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Start begins the profile JITSSH_CPUPROFILE asks for and returns what
// ends it; problems are told on stderr, as program, and profile nothing.
func Start(program string) (stop func()) {
	path := os.Getenv("JITSSH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cpu profile: %v\n", program, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: cpu profile: %v\n", program, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
