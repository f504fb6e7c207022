package cli

import (
	"strings"

	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
)

// yieldToUserOptions leaves out of o the settings that are the user's to
// choose when the user's own ssh arguments (after `--`) set them: ssh
// takes an option's first value, and jitssh's -o come first. Only
// preferences yield (ServerAliveInterval); the settings that make the
// connection jitssh's (ProxyCommand, the pin store, StrictHostKeyChecking)
// do not.
func yieldToUserOptions(o *sshconfig.Options, userArgs []string) {
	if _, ok := sshUserOption(userArgs, "ServerAliveInterval"); ok {
		o.ServerAliveInterval = -1
	}
}

// sshArgFlags are ssh(1)'s options that take an argument (OpenSSH 9's
// getopt string "1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy").
const sshArgFlags = "bceilmopBDEFIJLOPQRSwW"

// sshUserOption returns the value the user's own ssh arguments give the
// ssh_config option key (case-insensitive) with -o, and whether they
// give one. args are what follows the destination on ssh's command line:
// options first (ssh parses options after the destination too), then the
// remote command, whose words are not ssh's and are not looked at. ssh
// takes the first value it is given for an option, so a value here must
// keep jitssh from putting its own first.
func sshUserOption(args []string, key string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return "", false // the remote command begins
		}
		// a cluster of flags such as -vo VALUE or -oKey=Value
		for j := 1; j < len(a); j++ {
			if !strings.ContainsRune(sshArgFlags, rune(a[j])) {
				continue
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return "", false
				}
				i++
				val = args[i]
			}
			if a[j] == 'o' {
				if k, v, ok := splitSSHOption(val); ok && strings.EqualFold(k, key) {
					return v, true
				}
			}
			break
		}
	}
	return "", false
}

// splitSSHOption splits an -o argument ("Key=Value", "Key Value",
// "Key = Value") as ssh does.
func splitSSHOption(s string) (key, value string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	end := strings.IndexAny(s, "= \t")
	if end <= 0 {
		return "", "", false
	}
	key, rest := s[:end], strings.TrimLeft(s[end:], " \t")
	rest = strings.TrimPrefix(rest, "=")
	return key, strings.TrimSpace(rest), true
}

// sshCommandLine is the argument list of `jitssh ssh`'s ssh: jitssh's
// settings as -o options (less those the user's own arguments set; see
// yieldToUserOptions), the login and the instance, then the user's
// arguments (options, remote command).
func sshCommandLine(o sshconfig.Options, user, host string, userArgs []string) ([]string, error) {
	yieldToUserOptions(&o, userArgs)
	sshArgs, err := sshconfig.Args(o)
	if err != nil {
		return nil, err
	}
	// The pin store is ssh's UserKnownHostsFile under HostKeyAlias (the
	// instance id), which is all ssh needs to enforce the pin; the
	// KnownHostsCommand answers for other names and explains a changed
	// key, at the price of a jitssh process after the key exchange. Here
	// the proxy explains instead, and the command is off (the first -o
	// wins).
	sshArgs = append([]string{"-o", "KnownHostsCommand=none"}, sshArgs...)
	sshArgs = append(sshArgs, "-l", user, host)
	return append(sshArgs, userArgs...), nil
}
