package cli

import (
	"net"
	"strings"
	"testing"
)

func TestParsePortSpec(t *testing.T) {
	good := map[string]portSpec{
		"80":                        {RemotePort: 80},
		"8080:80":                   {LocalPort: 8080, LocalSet: true, RemotePort: 80},
		"0:22":                      {LocalSet: true, RemotePort: 22},
		"5432:db.internal:5432":     {LocalPort: 5432, LocalSet: true, RemoteHost: "db.internal", RemotePort: 5432},
		"8080:localhost:80":         {LocalPort: 8080, LocalSet: true, RemotePort: 80},
		"8080:10.0.1.12:22":         {LocalPort: 8080, LocalSet: true, RemoteHost: "10.0.1.12", RemotePort: 22},
		"8080:[fd00::1]:22":         {LocalPort: 8080, LocalSet: true, RemoteHost: "fd00::1", RemotePort: 22},
		"0.0.0.0:8080:localhost:80": {Bind: "0.0.0.0", LocalPort: 8080, LocalSet: true, RemotePort: 80},
		"[::1]:8080:web:80":         {Bind: "::1", LocalPort: 8080, LocalSet: true, RemoteHost: "web", RemotePort: 80},
		"65535:65535":               {LocalPort: 65535, LocalSet: true, RemotePort: 65535},
	}
	for s, want := range good {
		got, err := parsePortSpec(s)
		if err != nil || got != want {
			t.Errorf("parsePortSpec(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", ":", "0", "65536", "-1", "+80", "080", "8080:", ":80", "8080::80", "a:80", "80:a",
		"1:2:3:4:5", "8080:host:0", "8080:host:", "8080:[host]:80", "8080:[10.0.0.1]:80", "8080:[::1:80",
		"8080:::1:80", "8080:ho st:80", "8080:ho/st:80", "localhost:8080:web:80", "[::1:8080:web:80",
		"::1:8080:web:80", "1.2.3.4:8080:80", "8080:" + strings.Repeat("a", 254) + ":80", "８０", "80 ", " 80",
		"[fd00::1]:80", "x]:80", "8080:web]:80",
	} {
		if sp, err := parsePortSpec(s); err == nil {
			t.Errorf("parsePortSpec(%q) accepted: %+v", s, sp)
		} else if !strings.Contains(err.Error(), "want PORT, LOCAL:PORT") {
			t.Errorf("parsePortSpec(%q): error %q does not say the forms", s, err)
		}
	}
}

// FuzzParsePortSpec: whatever is accepted has ports in range, a host
// SSM accepts, an IP bind address, and reads back the same from String.
func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "5432:db.internal:5432", "[::1]:8080:[fd00::1]:22", "0.0.0.0:0:localhost:1", "1:2:3:4:5", "[", "]:", "8080:[::1]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parsePortSpec(s)
		if err != nil {
			return
		}
		if sp.RemotePort < 1 || sp.RemotePort > 65535 || sp.LocalPort < 0 || sp.LocalPort > 65535 {
			t.Fatalf("%q: ports out of range: %+v", s, sp)
		}
		if sp.RemoteHost != "" && net.ParseIP(sp.RemoteHost) == nil && (!remoteHostPattern.MatchString(sp.RemoteHost) || strings.Contains(sp.RemoteHost, ":")) {
			t.Fatalf("%q: host %q", s, sp.RemoteHost)
		}
		if sp.Bind != "" && net.ParseIP(sp.Bind) == nil {
			t.Fatalf("%q: bind %q", s, sp.Bind)
		}
		back, err := parsePortSpec(sp.String())
		if err != nil || back != sp {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, sp, sp.String(), back, err)
		}
	})
}
