// Command jitssh is the client: SSH to EC2 instances with short-lived keys
// pushed through EC2 Instance Connect and tunnels through SSM.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jitssh/jitssh/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
