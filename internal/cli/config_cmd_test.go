package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
)

// TestConfigFlags: config's subcommands and flags → configOptions, and
// the Host section's settings (--user, else default_user; --host).
func TestConfigFlags(t *testing.T) {
	scrubAWS(t)
	conf := filepath.Join(t.TempDir(), "config.toml")
	t.Setenv(clientconf.EnvPath, conf)
	if err := os.WriteFile(conf, []byte("default_user = \"ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		sub   string
		file  string
		user  string
		hosts []string
		err   string
		alive int // ServerAliveInterval; 0: not checked (uninstall)
	}{
		{[]string{"print"}, "print", "", "ops", nil, "", 30},
		{[]string{"print", "--user", "ec2-user", "--host", "*.eu-west-1", "--host", "web-*"}, "print", "", "ec2-user", []string{"*.eu-west-1", "web-*"}, "", 30},
		{[]string{"install", "--file", "./ssh_config"}, "install", "./ssh_config", "ops", nil, "", 30},
		{[]string{"install", "--user", "admin"}, "install", "", "admin", nil, "", 30},
		{[]string{"install", "--server-alive", "2m"}, "install", "", "ops", nil, "", 120},
		{[]string{"print", "--server-alive", "1500ms"}, "print", "", "ops", nil, "", 2},
		{[]string{"print", "--server-alive", "0"}, "print", "", "ops", nil, "", -1},
		{[]string{"print", "--server-alive", "soon"}, "", "", "", nil, "invalid argument", 0},
		{[]string{"uninstall", "--file", "x"}, "uninstall", "x", "ops", nil, "", 0},
		{[]string{"print", "--file", "x"}, "", "", "", nil, "unknown flag: --file", 0},
		{[]string{"uninstall", "--user", "x"}, "", "", "", nil, "unknown flag: --user", 0},
		{[]string{"uninstall", "--server-alive", "1s"}, "", "", "", nil, "unknown flag: --server-alive", 0},
		{[]string{"install", "extra"}, "", "", "", nil, "unknown command", 0},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var sub string
			var got *configOptions
			cmd := newConfigCmd(&globals{}, func(_ context.Context, s string, o *configOptions) error { sub, got = s, o; return nil })
			cmd.SetArgs(c.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || got != nil {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sub != c.sub || got.File != c.file {
				t.Errorf("%s --file %q; want %s %q", sub, got.File, c.sub, c.file)
			}
			b, err := got.Block()
			if err != nil {
				t.Fatal(err)
			}
			if b.User != c.user || !reflect.DeepEqual(b.ExtraHosts, c.hosts) || !filepath.IsAbs(b.JitsshPath) || b.KnownHostsFile == "" {
				t.Errorf("block %+v; want user %q, hosts %q", b, c.user, c.hosts)
			}
			if c.alive != 0 && b.ServerAliveInterval != c.alive {
				t.Errorf("ServerAliveInterval %d, want %d", b.ServerAliveInterval, c.alive)
			}
		})
	}
}

// TestConfigExitCodes: the config subcommands' errors → exit codes.
func TestConfigExitCodes(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	statePaths := func() (paths, error) {
		return paths{KeyDir: filepath.Join(state, "keys"), Pins: filepath.Join(state, "known_hosts"), SSHConfig: filepath.Join(state, "ssh_config")}, nil
	}
	block := func() (sshconfig.Options, error) {
		return sshconfig.Options{JitsshPath: "/usr/local/bin/jitssh", KeyDir: filepath.Join(state, "keys"), KnownHostsFile: filepath.Join(state, "known_hosts")}, nil
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name   string
		run    func(context.Context, *configOptions) error
		o      configOptions
		code   int
		stderr string
	}{
		{"print", runConfigPrint, configOptions{Block: block}, 0, ""},
		{"print: no binary", runConfigPrint, configOptions{Block: func() (sshconfig.Options, error) {
			return sshconfig.Options{}, errors.New("find the jitssh binary: no such file")
		}}, 255, "find the jitssh binary"},
		{"print: bad --host", runConfigPrint, configOptions{Block: func() (sshconfig.Options, error) {
			o, _ := block()
			o.ExtraHosts = []string{"bad\nhost"}
			return o, nil
		}}, 255, "bad"},
		{"uninstall: no block", runConfigUninstall, configOptions{Paths: statePaths, File: write("plain", "Host x\n")}, 0, "has no jitssh block"},
		{"uninstall: BEGIN without END", runConfigUninstall, configOptions{Paths: statePaths, File: write("broken", "# BEGIN jitssh\nInclude x\n")}, 255, ""},
		{"install: no state directory", runConfigInstall, configOptions{Block: block, File: write("inst", ""), Paths: func() (paths, error) {
			return paths{}, errors.New(`JITSSH_STATE_DIR="rel": want an absolute path`)
		}}, 255, "absolute path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut strings.Builder
			c.o.IO = IOStreams{Out: &out, Err: &errOut}
			code, printed := codeOf(c.run(context.Background(), &c.o))
			if code != c.code || !strings.Contains(errOut.String()+printed, c.stderr) {
				t.Errorf("exit %d, stderr %q %q; want %d and %q", code, errOut.String(), printed, c.code, c.stderr)
			}
		})
	}
}
