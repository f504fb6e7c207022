package sshconfig

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// SampleHosts are the names CheckEffective asks ssh about: one EC2 and one
// managed instance id, both matched by the block.
var SampleHosts = []string{"i-0123456789abcdef0", "mi-0123456789abcdef0"}

// Override is an option that ssh takes, for a host jitssh's block is meant
// for, from somewhere other than the block. OpenSSH keeps the FIRST value
// it obtains for each option, so any earlier Host or Match section that
// matches i-*/mi-* (a "Host *" or "Match all" above the block, or one in a
// file included before it) wins over the block.
type Override struct {
	Host    string // the sample host asked about
	Keyword string // ssh_config keyword, as ssh -G prints it (lower case)
	Got     string // the effective value ("" = not set)
	Want    string // the block's value ("" = must not be set)
	// Why says what the override costs.
	Why string
}

func (o Override) String() string {
	got := o.Got
	if got == "" {
		got = "(not set)"
	}
	want := o.Want
	if want == "" {
		want = "(not set)"
	}
	return fmt.Sprintf("%s: %s is %s, not %s: %s", o.Host, o.Keyword, got, want, o.Why)
}

// expectation is one option the block must decide for its hosts.
type expectation struct {
	keyword string
	want    string // "" = must be absent
	why     string
}

// expectations lists, as `ssh -G` prints them, the options of the block
// whose loss changes what a connection to host trusts or where it goes.
func (o Options) expectations(host string) ([]expectation, error) {
	s, err := o.settings()
	if err != nil {
		return nil, err
	}
	val := map[string]string{}
	for _, x := range s {
		val[x.key] = x.value
	}
	const pin = "the host key is no longer checked against jitssh's pins only"
	e := []expectation{
		{"proxycommand", val["ProxyCommand"], "the connection does not go through jitssh"},
		{"proxyjump", "", "the connection does not go through jitssh"},
		{"hostname", host, "jitssh is asked for a different host than the one named"},
		{"stricthostkeychecking", "true", "unknown or changed host keys are accepted or asked about: " + pin},
		{"userknownhostsfile", o.KnownHostsFile, pin},
		{"knownhostscommand", val["KnownHostsCommand"], pin},
		{"updatehostkeys", "false", "ssh may add keys to jitssh's pin store"},
		{"hostkeyalias", "", "the host key is checked against another host's pin"},
		{"identitiesonly", "yes", "ssh offers other keys too"},
		{"identityfile", unquotePath(strings.TrimSuffix(strings.TrimPrefix(val["IdentityFile"], `"`), `"`)), "ssh offers another key before jitssh's"},
	}
	if o.User != "" {
		e = append(e, expectation{"user", o.User, "ssh logs in as another user than the block sets"})
	}
	return e, nil
}

// unquotePath undoes the backslash escapes of QuotePath's inner text,
// giving the path as ssh -G prints it (with '%' still doubled: ssh expands
// tokens when it uses the path).
func unquotePath(q string) string {
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(q)
}

// ParseG parses `ssh -G` output: each keyword's values in order (a keyword
// such as identityfile may repeat). Keywords are lower case.
func ParseG(out []byte) map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "" {
			continue
		}
		m[strings.ToLower(k)] = append(m[strings.ToLower(k)], v)
	}
	return m
}

// Compare returns the options of o that the effective configuration g (as
// parsed by ParseG, for host) does not hold.
func Compare(o Options, host string, g map[string][]string) ([]Override, error) {
	exp, err := o.expectations(host)
	if err != nil {
		return nil, err
	}
	var out []Override
	for _, e := range exp {
		var got string // multi-valued options (identityfile): the first, which ssh tries first
		if vs := g[e.keyword]; len(vs) > 0 {
			got = vs[0]
		}
		// ssh -G prints unset string options as "none" or leaves them out.
		if e.want == "" && (got == "none" || got == "") {
			continue
		}
		if got != e.want {
			out = append(out, Override{Host: host, Keyword: e.keyword, Got: got, Want: e.want, Why: e.why})
		}
	}
	return out, nil
}

// CheckEffective asks the real ssh (sshPath) what it makes of configPath
// for each of SampleHosts (`ssh -G -F configPath host`; ssh reads the system
// file after the user's, so it cannot override the block) and returns every
// option of o that does not hold there. An empty result means the block
// decides everything that matters for i-*/mi-* hosts.
func CheckEffective(ctx context.Context, sshPath, configPath string, o Options) ([]Override, error) {
	var all []Override
	for _, host := range SampleHosts {
		cmd := exec.CommandContext(ctx, sshPath, "-G", "-F", configPath, host)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("ssh -G -F %s %s: %w: %s", configPath, host, err, strings.TrimSpace(stderr.String()))
		}
		ov, err := Compare(o, host, ParseG(out))
		if err != nil {
			return nil, err
		}
		all = append(all, ov...)
	}
	return all, nil
}
