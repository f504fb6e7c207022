// Command jitssh-host is the instance side of jitssh: run by sshd as its
// AuthorizedKeysCommand, it prints the EC2 Instance Connect keys that pass
// verification. See `jitssh-host authorized-keys --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jitssh/jitssh/internal/hostcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hostcli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
