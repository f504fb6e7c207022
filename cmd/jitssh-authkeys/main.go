// Command jitssh-authkeys is sshd's AuthorizedKeysCommand for jitssh: it
// asks the jitssh-host userdb service for the verified EC2 Instance Connect
// keys of a user, and runs `jitssh-host authorized-keys` when no service
// answers. See `jitssh-authkeys --help`.
package main

import (
	"os"

	"github.com/jitssh/jitssh/internal/authkeyscli"
)

func main() {
	os.Exit(authkeyscli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
