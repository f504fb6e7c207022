package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/transport"
)

func TestConfigAcceptsExactlyTheTransports(t *testing.T) {
	a, b := slices.Clone(clientconf.Transports), slices.Clone(transport.Names)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Fatalf("clientconf.Transports = %v, transport.Names = %v", a, b)
	}
}

func TestTransportChoice(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.toml")
	t.Setenv(clientconf.EnvPath, conf)
	t.Setenv(envTransport, "")
	t.Setenv(envVia, "")
	write := func(s string) {
		if err := os.WriteFile(conf, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	choose := func(tr, via string) (string, string, error) {
		g := &globals{}
		name, sp, err := g.transportChoice(tr, via)
		v := ""
		if sp != nil {
			v = sp.String()
		}
		return name, v, err
	}
	write("")
	for _, c := range []struct{ tr, via, name, gotVia, err string }{
		{"", "", "", "", ""},
		{"eice", "", "eice", "", ""},
		{"", "bastion-1", "bastion", "bastion-1", ""},
		{"bastion", "admin@bastion-1", "bastion", "bastion-1", ""},
		{"bastion", "", "", "", "needs a jump host"},
		{"direct", "bastion-1", "", "", "goes with the bastion transport"},
		{"pigeon", "", "", "", "use one of auto, ssm"},
		{"", "bad target!", "", "", "--via"},
	} {
		name, via, err := choose(c.tr, c.via)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("(%q, %q): err = %v, want %q", c.tr, c.via, err, c.err)
			}
			continue
		}
		if err != nil || name != c.name || via != c.gotVia {
			t.Errorf("(%q, %q) = %q, %q, %v; want %q, %q", c.tr, c.via, name, via, err, c.name, c.gotVia)
		}
	}
	// The config's via applies to auto and bastion, not to an explicit
	// other transport; the environment (from jitssh ssh) beats the config.
	write("transport = \"bastion\"\nvia = \"bastion-1\"\n")
	if name, via, err := choose("", ""); err != nil || name != "bastion" || via != "bastion-1" {
		t.Errorf("config bastion: %q %q %v", name, via, err)
	}
	if name, via, err := choose("ssm", ""); err != nil || name != "ssm" || via != "" {
		t.Errorf("--transport ssm over a config bastion: %q %q %v", name, via, err)
	}
	t.Setenv(envTransport, "direct")
	if name, _, err := choose("", ""); err != nil || name != "direct" {
		t.Errorf("$%s=direct: %q %v", envTransport, name, err)
	}
}
