package cli

import (
	"strings"

	"golang.org/x/crypto/ssh"
)

// pinnedHostKeyAlgorithms returns ssh's HostKeyAlgorithms value putting
// the algorithms of the pinned keys first ("^…", OpenSSH 8.5+), or "" if
// it cannot say (no pin, an unknown key type, or the user set
// HostKeyAlgorithms in the ssh arguments).
//
// It is what ssh's own ordering would find: without HostKeyAlgorithms,
// ssh orders its default algorithms by the keys known for the host,
// reading UserKnownHostsFile (the pin store, under HostKeyAlias) and
// running KnownHostsCommand once more ("ORDER") before the key exchange —
// a whole jitssh process on the critical path. With it set, ssh skips
// that query; the host key is still checked against the pin (and
// KnownHostsCommand still runs, "HOSTNAME") after the key exchange, so a
// mismatch is refused and explained as before.
func pinnedHostKeyAlgorithms(pinned []ssh.PublicKey, sshArgs []string) string {
	for _, a := range sshArgs {
		if strings.Contains(strings.ToLower(a), "hostkeyalgorithms") {
			return ""
		}
	}
	var algs []string
	for _, k := range pinned {
		switch t := k.Type(); t {
		case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
			algs = append(algs, t)
		case ssh.KeyAlgoRSA:
			algs = append(algs, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		default:
			return ""
		}
	}
	if len(algs) == 0 {
		return ""
	}
	return "^" + strings.Join(algs, ",")
}
