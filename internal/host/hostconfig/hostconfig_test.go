package hostconfig_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/host/hostconfig"
)

func TestParse(t *testing.T) {
	t.Parallel()
	full := `
imds_endpoint = "http://127.0.0.1:8080"
trusted_roots = "/etc/jitssh/roots.pem"
audit_file = ""
syslog = false
timeout = "1500ms"
keys_socket = "/run/k"
`
	got, err := hostconfig.Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := hostconfig.Config{
		IMDSEndpoint: "http://127.0.0.1:8080",
		TrustedRoots: "/etc/jitssh/roots.pem",
		AuditFile:    "",
		Syslog:       false,
		Timeout:      1500 * time.Millisecond,
		KeysSocket:   "/run/k",
		BlockFile:    "/etc/jitssh/blocked",
		JIT:          hostconfig.Default().JIT,
		CloudWatch:   hostconfig.Default().CloudWatch,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse = %+v, want %+v", got, want)
	}
	if got, err := hostconfig.Parse(nil); err != nil || !reflect.DeepEqual(got, hostconfig.Default()) {
		t.Errorf("empty file = %+v, %v; want defaults", got, err)
	}
	d := hostconfig.Default()
	if d.IMDSEndpoint != "http://169.254.169.254" || d.AuditFile != "/var/log/jitssh/audit.jsonl" || !d.Syslog || d.Timeout != 3*time.Second || d.TrustedRoots != "" {
		t.Errorf("Default = %+v", d)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", `imds = "x"`, "unknown key(s) imds"},
		{"unknown table", "[extra]\nx = 1", "unknown key(s)"},
		{"bad endpoint", `imds_endpoint = "169.254.169.254"`, "imds_endpoint"},
		{"relative roots", `trusted_roots = "roots.pem"`, "absolute path"},
		{"relative audit", `audit_file = "audit.jsonl"`, "absolute path"},
		{"timeout not duration", `timeout = "soon"`, `timeout "soon"`},
		{"timeout as integer", `timeout = 3`, "timeout"},
		{"timeout too short", `timeout = "1ms"`, "outside"},
		{"timeout too long", `timeout = "1m"`, "outside"},
		{"syslog not bool", `syslog = "yes"`, "syslog"},
		{"not toml", `imds_endpoint = `, "hostconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := hostconfig.Parse([]byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) err = %v, want it to mention %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "host.toml")
	if err := os.WriteFile(good, []byte(`timeout = "2s"`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := hostconfig.Load(good)
	if err != nil || c.Timeout != 2*time.Second {
		t.Errorf("Load = %+v, %v", c, err)
	}
	if _, err := hostconfig.Load(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("Load of an explicit missing file succeeded")
	}
	writable := filepath.Join(dir, "writable.toml")
	if err := os.WriteFile(writable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := hostconfig.Load(writable); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("Load of a world-writable file: err = %v", err)
	}
	if _, err := hostconfig.Load(dir); err == nil {
		t.Error("Load of a directory succeeded")
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("nope = 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := hostconfig.Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load of a bad file: err = %v, want it to name the file", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`imds_endpoint = "http://127.0.0.1:1"` + "\ntimeout = \"2s\"\nsyslog = true\n"))
	f.Add([]byte(`audit_file = ""`))
	f.Add([]byte("[x]\ny = [1,2]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := hostconfig.Parse(data)
		if err != nil {
			return
		}
		if c.Timeout < hostconfig.MinTimeout || c.Timeout > hostconfig.MaxTimeout || c.IMDSEndpoint == "" {
			t.Fatalf("Parse accepted an invalid config %+v", c)
		}
	})
}

func TestParseJIT(t *testing.T) {
	t.Parallel()
	c, err := hostconfig.Parse([]byte(`
[jit]
service = "io.jitssh.test"
state_file = "/tmp/x/users.json"
uid_min = 5000
uid_max = 5999
home_base = "/srv/home"
skel = ""
shell = "/bin/sh"
negative_ttl = "500ms"
expire_after = "720h"
reserved = ["admin", "deploy"]
groups_window = "5m"

[[jit.groups]]
caller = "arn:aws:sts::*:assumed-role/Admin/*"
groups = ["sudo", "adm"]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := hostconfig.JIT{
		Service: "io.jitssh.test", StateFile: "/tmp/x/users.json", UIDMin: 5000, UIDMax: 5999,
		HomeBase: "/srv/home", Skel: "", Shell: "/bin/sh", NegativeTTL: 500 * time.Millisecond,
		ExpireAfter: 720 * time.Hour, Reserved: []string{"admin", "deploy"}, GroupsWindow: 5 * time.Minute,
		Groups: []hostconfig.GroupRule{{Caller: "arn:aws:sts::*:assumed-role/Admin/*", Groups: []string{"sudo", "adm"}}},
	}
	if !reflect.DeepEqual(c.JIT, want) {
		t.Errorf("JIT = %+v\nwant %+v", c.JIT, want)
	}
	for _, tt := range []struct{ text, want string }{
		{"[jit]\nservice = \"../x\"", "service"},
		{"[jit]\nuid_min = 10", "uid_min"},
		{"[jit]\nuid_min = 5000\nuid_max = 4000", "uid_min"},
		{"[jit]\nuid_max = 4294967296", "uid_min"},
		{"[jit]\nuid_min = -1", "uid_min"},
		{"[jit]\nhome_base = \"home\"", "home_base"},
		{"[jit]\nhome_base = \"/home/../etc\"", "home_base"},
		{"[jit]\nstate_file = \"\"", "state_file"},
		{"[jit]\nnegative_ttl = \"1h\"", "negative_ttl"},
		{"[jit]\nexpire_after = \"1m\"", "expire_after"},
		{"[jit]\nexpire_after = \"-1h\"", "expire_after"},
		{"[jit]\nuid = 1", "unknown key(s) jit.uid"},
		{"[jit]\ngroups_window = \"2h\"", "groups_window"},
		{"[jit]\ngroups_window = \"10ms\"", "groups_window"},
		{"[[jit.groups]]\ncaller = \"*\"\ngroups = [\"Sudo\"]", "not a group name"},
		{"[[jit.groups]]\ncaller = \"*\"\ngroups = [\"" + strings.Repeat("g", 33) + "\"]", "not a group name"},
		{"[jit]\nservice = \"" + strings.Repeat("s", 101) + "\"", "service"},
		{"[[jit.groups]]\ncaller = \"\"\ngroups = [\"sudo\"]", "caller"},
		{"[[jit.groups]]\ncaller = \"*\"", "no groups"},
	} {
		if _, err := hostconfig.Parse([]byte(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) err = %v, want it to mention %q", tt.text, err, tt.want)
		}
	}
}

func TestKeysSocket(t *testing.T) {
	t.Parallel()
	if c, _ := hostconfig.Parse(nil); c.KeysSocket != "/run/jitssh/io.jitssh.Keys" {
		t.Errorf("default keys_socket = %q", c.KeysSocket)
	}
	for text, want := range map[string]string{`keys_socket = ""`: "", `keys_socket = "/run/x/k"`: "/run/x/k"} {
		if c, err := hostconfig.Parse([]byte(text)); err != nil || c.KeysSocket != want {
			t.Errorf("%s: %q, %v", text, c.KeysSocket, err)
		}
	}
	for _, bad := range []string{`keys_socket = "rel/k"`, `keys_socket = "/a/../k"`, `keys_socket = "/` + strings.Repeat("a", 120) + `"`, `keys_socket = 1`} {
		if c, err := hostconfig.Parse([]byte(bad)); err == nil {
			t.Errorf("%s accepted: %q", bad, c.KeysSocket)
		}
	}
}

func TestBlockFile(t *testing.T) {
	t.Parallel()
	if c, _ := hostconfig.Parse(nil); c.BlockFile != "/etc/jitssh/blocked" || c.JIT.GroupsWindow != 130*time.Second {
		t.Errorf("default block_file = %q, groups_window = %v", c.BlockFile, c.JIT.GroupsWindow)
	}
	for text, want := range map[string]string{`block_file = ""`: "", `block_file = "/srv/blocked"`: "/srv/blocked"} {
		if c, err := hostconfig.Parse([]byte(text)); err != nil || c.BlockFile != want {
			t.Errorf("%s: %q, %v", text, c.BlockFile, err)
		}
	}
	for _, bad := range []string{`block_file = "rel"`, `block_file = "/a/../b"`, `block_file = "/a:b"`, `block_file = 1`} {
		if c, err := hostconfig.Parse([]byte(bad)); err == nil {
			t.Errorf("%s accepted: %q", bad, c.BlockFile)
		}
	}
}

func TestParseCloudWatch(t *testing.T) {
	t.Parallel()
	c, err := hostconfig.Parse([]byte(`[cloudwatch]
log_group = "/jitssh/instances"
region = "eu-west-1"
endpoint = "https://127.0.0.1:4443/"
ca_bundle = "/etc/jitssh/ca.pem"
spool_dir = "/var/spool/x"
spool_max_bytes = 100000
flush_interval = "200ms"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := hostconfig.CloudWatch{LogGroup: "/jitssh/instances", Region: "eu-west-1", Endpoint: "https://127.0.0.1:4443",
		CABundle: "/etc/jitssh/ca.pem", SpoolDir: "/var/spool/x", SpoolMaxBytes: 100000, FlushInterval: 200 * time.Millisecond}
	if !reflect.DeepEqual(c.CloudWatch, want) || !c.CloudWatch.Enabled() {
		t.Errorf("CloudWatch = %+v, want %+v", c.CloudWatch, want)
	}
	if d := hostconfig.Default().CloudWatch; d.Enabled() || d.SpoolDir != hostconfig.DefaultSpoolDir {
		t.Errorf("default CloudWatch = %+v", d)
	}
	for in, want := range map[string]string{
		`log_group = "bad name"`:          "cloudwatch.log_group",
		`region = "Mars"`:                 "cloudwatch.region",
		`endpoint = "ftp://x"`:            "cloudwatch.endpoint",
		`endpoint = "https://x/path"`:     "cloudwatch.endpoint",
		`spool_dir = "rel"`:               "cloudwatch.spool_dir",
		`spool_max_bytes = 10`:            "cloudwatch.spool_max_bytes",
		`flush_interval = "1h"`:           "cloudwatch.flush_interval",
		`log_streams = "x"`:               "unknown key",
		`ca_bundle = "/a/../b"`:           "cloudwatch.ca_bundle",
		`flush_interval = "soon"`:         "cloudwatch.flush_interval",
		`spool_max_bytes = 2000000000000`: "cloudwatch.spool_max_bytes",
	} {
		if _, err := hostconfig.Parse([]byte("[cloudwatch]\n" + in + "\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}
