package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// portSpec is one forwarding of `jitssh tunnel`, written as ssh's -L is:
//
//	PORT                     the instance's PORT, on a free local port (or --local-port)
//	LOCAL:PORT               local port LOCAL to the instance's PORT
//	LOCAL:HOST:PORT          local port LOCAL to HOST:PORT as the instance reaches it
//	BIND:LOCAL:HOST:PORT     the same, listening on the local address BIND
//
// HOST and BIND may be IPv6 literals in brackets; HOST "localhost" is the
// instance itself; LOCAL 0 is any free port.
type portSpec struct {
	Bind       string // "" means --bind
	LocalPort  int
	LocalSet   bool   // LOCAL was given
	RemoteHost string // "" means the instance itself
	RemotePort int
}

// splitSpec splits s at colons outside brackets.
func splitSpec(s string) ([]string, error) {
	var parts []string
	start, depth := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			if depth > 0 || i != start {
				return nil, fmt.Errorf("unexpected '[' at %d", i)
			}
			depth++
		case ']':
			if depth == 0 || (i+1 < len(s) && s[i+1] != ':') {
				return nil, fmt.Errorf("unexpected ']' at %d", i)
			}
			depth--
		case ':':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unclosed '['")
	}
	return append(parts, s[start:]), nil
}

// parsePortNumber parses a decimal port: digits only, no leading zero,
// 1 to 65535 (0 too if zeroOK).
func parsePortNumber(s string, zeroOK bool) (int, error) {
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q: want a number from 1 to 65535", s)
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 || n == 0 && !zeroOK {
		return 0, fmt.Errorf("port %q: want a number from 1 to 65535", s)
	}
	return n, nil
}

// parseRemoteHost checks HOST: a DNS name or an IP address (IPv6 in
// brackets), as SSM accepts for AWS-StartPortForwardingSessionToRemoteHost.
func parseRemoteHost(h string) (string, error) {
	if inner, ok := strings.CutPrefix(h, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if ip := net.ParseIP(inner); !ok || ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("host %q: want an IPv6 address in brackets", h)
		}
		return inner, nil
	}
	if h == "" || len(h) > 253 || !remoteHostPattern.MatchString(h) || strings.Contains(h, ":") {
		return "", fmt.Errorf("host %q: want a DNS name or an IP address", h)
	}
	return h, nil
}

func parsePortSpec(s string) (portSpec, error) {
	parts, err := splitSpec(s)
	if err != nil {
		return portSpec{}, fmt.Errorf("forwarding %q: %v (want PORT, LOCAL:PORT, LOCAL:HOST:PORT or BIND:LOCAL:HOST:PORT)", s, err)
	}
	var sp portSpec
	bad := func(err error) (portSpec, error) {
		return portSpec{}, fmt.Errorf("forwarding %q: %v (want PORT, LOCAL:PORT, LOCAL:HOST:PORT or BIND:LOCAL:HOST:PORT)", s, err)
	}
	if len(parts) > 4 {
		return bad(fmt.Errorf("%d fields", len(parts)))
	}
	if sp.RemotePort, err = parsePortNumber(parts[len(parts)-1], false); err != nil {
		return bad(err)
	}
	switch len(parts) {
	case 1:
		return sp, nil
	case 2:
		if sp.LocalPort, err = parsePortNumber(parts[0], true); err != nil {
			return bad(err)
		}
		sp.LocalSet = true
		return sp, nil
	}
	// LOCAL:HOST:PORT, BIND:LOCAL:HOST:PORT
	if sp.LocalPort, err = parsePortNumber(parts[len(parts)-3], true); err != nil {
		return bad(err)
	}
	sp.LocalSet = true
	host, err := parseRemoteHost(parts[len(parts)-2])
	if err != nil {
		return bad(err)
	}
	if host != "localhost" {
		sp.RemoteHost = host
	}
	if len(parts) == 4 {
		b := parts[0]
		if inner, ok := strings.CutPrefix(b, "["); ok {
			b = strings.TrimSuffix(inner, "]")
		}
		if net.ParseIP(b) == nil || strings.Contains(parts[0], ":") != strings.HasPrefix(parts[0], "[") {
			return bad(fmt.Errorf("bind address %q: want a local IP address such as 127.0.0.1 ([::1] for IPv6)", parts[0]))
		}
		sp.Bind = b
	}
	return sp, nil
}

// String writes sp back in the form parsePortSpec reads.
func (sp portSpec) String() string {
	var b strings.Builder
	if sp.Bind != "" {
		b.WriteString(bracket(sp.Bind) + ":")
	}
	if sp.LocalSet || sp.RemoteHost != "" || sp.Bind != "" {
		b.WriteString(strconv.Itoa(sp.LocalPort) + ":")
	}
	if sp.RemoteHost != "" || sp.Bind != "" {
		h := sp.RemoteHost
		if h == "" {
			h = "localhost"
		}
		b.WriteString(bracket(h) + ":")
	}
	b.WriteString(strconv.Itoa(sp.RemotePort))
	return b.String()
}

func bracket(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}
