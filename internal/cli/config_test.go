package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/clientconf"
	"github.com/jitssh/jitssh/internal/openssh/sshconfig"
)

// TestConfigInstallWarnsAboutEarlierSections runs `jitssh config install`
// on an ssh config whose managed block sits below a "Host *" that turns
// host-key checking off: the real ssh -G says the block loses, and install
// and doctor must say so.
func TestConfigInstallWarnsAboutEarlierSections(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("OpenSSH client (ssh) not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv(clientconf.EnvPath, filepath.Join(home, "none.toml"))
	cf := filepath.Join(home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(cf), 0o700); err != nil {
		t.Fatal(err)
	}
	install := func() string {
		t.Helper()
		var out, errb bytes.Buffer
		root := NewRoot(IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
		root.SetArgs([]string{"config", "install", "--file", cf})
		if err := root.Execute(); err != nil {
			t.Fatalf("config install: %v\n%s", err, errb.String())
		}
		return errb.String()
	}
	// A fresh file: the block goes to the top and nothing overrides it.
	if err := os.WriteFile(cf, []byte("Host *\n  StrictHostKeyChecking no\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := install(); strings.Contains(got, "WARNING") {
		t.Errorf("block at the top, yet a warning:\n%s", got)
	}
	g := &globals{}
	if c := checkUserSSHConfig(context.Background(), g); c.Status != "ok" {
		t.Errorf("doctor, block at the top: %+v", c)
	}
	// The user moves the block below their Host * section.
	data, _ := os.ReadFile(cf)
	stripped, _, err := sshconfig.Strip(data)
	if err != nil {
		t.Fatal(err)
	}
	block := strings.TrimPrefix(string(data), string(stripped))
	if err := os.WriteFile(cf, []byte(string(stripped)+block), 0o600); err != nil {
		t.Fatal(err)
	}
	got := install()
	if !strings.Contains(got, "WARNING") || !strings.Contains(got, "stricthostkeychecking is false") || !strings.Contains(got, "move the") {
		t.Errorf("install does not warn about the Host * above the block:\n%s", got)
	}
	c := checkUserSSHConfig(context.Background(), g)
	if c.Status != "fail" || !strings.Contains(c.Detail, "stricthostkeychecking") {
		t.Errorf("doctor: %+v", c)
	}
}

// TestDoctorSaysTheIncludedFileIsGone: the block in ~/.ssh/config includes
// a file that no longer exists (the state directory of a sandbox that has
// stopped; ssh then silently ignores the Include and "ssh i-…" cannot
// resolve the host). doctor must say that, and to install again, rather
// than blame sections above the block.
func TestDoctorSaysTheIncludedFileIsGone(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("OpenSSH client (ssh) not installed")
	}
	home := t.TempDir()
	state := filepath.Join(home, "state")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv(clientconf.EnvPath, filepath.Join(home, "none.toml"))
	t.Setenv(envStateDir, state)
	var out, errb bytes.Buffer
	root := NewRoot(IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	root.SetArgs([]string{"config", "install"})
	if err := root.Execute(); err != nil {
		t.Fatalf("config install: %v\n%s", err, errb.String())
	}
	if c := checkUserSSHConfig(context.Background(), &globals{}); c.Status != "ok" {
		t.Fatalf("doctor right after install: %+v", c)
	}
	// Another state directory (another sandbox's env file) than the one
	// the block was installed from.
	t.Setenv(envStateDir, filepath.Join(home, "other"))
	if c := checkUserSSHConfig(context.Background(), &globals{}); c.Status != "fail" || !strings.Contains(c.Detail, "includes "+filepath.Join(state, "ssh_config")+", not "+filepath.Join(home, "other", "ssh_config")) || strings.Contains(c.Fix, "move the") {
		t.Errorf("doctor with another state directory: %+v", c)
	}
	t.Setenv(envStateDir, state)
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	c := checkUserSSHConfig(context.Background(), &globals{})
	included := filepath.Join(state, "ssh_config")
	if c.Status != "fail" || !strings.Contains(c.Detail, included+", which does not exist") || !strings.Contains(c.Fix, "jitssh config install") || strings.Contains(c.Fix, "move the") {
		t.Errorf("doctor with the included file gone: %+v", c)
	}
}

// TestDoctorNamesAMissingCredentialsFile: a shell that sourced a stopped
// sandbox's env file names AWS config and credentials files that are gone.
// doctor's fix must say so, not send the user to `aws sso login`.
func TestDoctorNamesAMissingCredentialsFile(t *testing.T) {
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv(clientconf.EnvPath, filepath.Join(home, "none.toml"))
	t.Setenv(envStateDir, filepath.Join(home, "state"))
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	creds := filepath.Join(home, "gone", "aws-credentials")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "gone", "aws-config"))
	var out, errb strings.Builder
	Main(context.Background(), []string{"doctor"}, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if !strings.Contains(out.String(), "AWS_SHARED_CREDENTIALS_FILE="+creds) || !strings.Contains(out.String(), "no such file") {
		t.Errorf("doctor does not name the missing credentials file:\n%s%s", out.String(), errb.String())
	}
}
