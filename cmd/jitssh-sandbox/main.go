// Command jitssh-sandbox runs a local AWS for jitssh: EC2, EC2 Instance
// Connect, SSM with its data channel, STS and per-instance IMDS, with
// simulated instances running sshd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jitssh/jitssh/internal/sandboxcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := sandboxcli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
