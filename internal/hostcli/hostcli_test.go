package hostcli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/hostcli"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/imdsfixture"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const (
	region     = "us-east-1"
	instanceID = "i-0123456789abcdef0"
	caller     = "arn:aws:sts::123456789012:assumed-role/Developer/alice"
)

var sharedSigner = func() (*signer.Signer, error) { return imdsfixture.Shared(region) }

// instance is a simulated instance with its IMDS on 127.0.0.1 and a
// jitssh-host configuration file pointing at it.
type instance struct {
	world  *world.World
	signer *signer.Signer
	config string // path of host.toml
	audit  string // path of the audit file

	mu       sync.Mutex
	keysBody string // when set, replaces every active-keys answer
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	in := &instance{}
	m := imdsfixture.New(t, imdsfixture.Options{Region: region, Instance: world.Instance{ID: instanceID},
		Intercept: func(rw http.ResponseWriter, r *http.Request) bool {
			in.mu.Lock()
			body := in.keysBody
			in.mu.Unlock()
			if body != "" && strings.Contains(r.URL.Path, "/active-keys/") {
				rw.Write([]byte(body))
				return true
			}
			return false
		}})
	in.world, in.signer = m.World, m.Signer()

	dir := t.TempDir()
	roots := m.WriteRoots(t, filepath.Join(dir, "roots.pem"))
	in.audit = filepath.Join(dir, "audit.jsonl")
	in.config = filepath.Join(dir, "host.toml")
	in.writeConfig(t, fmt.Sprintf("imds_endpoint = %q\ntrusted_roots = %q\naudit_file = %q\nsyslog = false\ntimeout = \"2s\"\n", m.URL, roots, in.audit))
	return in
}

func (in *instance) writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(in.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) push(t *testing.T, user string) string {
	t.Helper()
	line := testkeys.New(t).Line(user + "@laptop")
	in.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: user, PublicKey: line, Caller: caller, RequestID: "req-1"})
	return line
}

func (in *instance) auditEvents(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(in.audit)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = hostcli.Main(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func fingerprint(t *testing.T, line string) string {
	t.Helper()
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(pk)
}

func TestAuthorizedKeys(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	key := in.push(t, "alice")

	code, out, errOut := run("authorized-keys", "--config", in.config, "--", "alice", fingerprint(t, key))
	if code != 0 || out != key+"\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the key and exit 0", code, out, errOut)
	}
	events := in.auditEvents(t)
	if len(events) != 1 || events[0]["event"] != "key-served" || events[0]["os_user"] != "alice" ||
		events[0]["caller"] != caller || events[0]["fingerprint"] != fingerprint(t, key) || events[0]["instance"] != instanceID {
		t.Errorf("audit = %v", events)
	}

	// Without %f, and without "--".
	if code, out, _ := run("authorized-keys", "--config", in.config, "alice"); code != 0 || out != key+"\n" {
		t.Errorf("without fingerprint: exit %d, stdout %q", code, out)
	}
}

func TestAuthorizedKeysNothingToServe(t *testing.T) {
	t.Parallel()
	in := newInstance(t)
	in.push(t, "alice")
	for _, args := range [][]string{
		{"bob"},
		{"alice", "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"},
	} {
		code, out, errOut := run(append([]string{"authorized-keys", "--config", in.config}, args...)...)
		if code != 0 || out != "" || !strings.Contains(errOut, "no EC2 Instance Connect key") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and nothing printed", args, code, out, errOut)
		}
	}
}

func TestAuthorizedKeysRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, in *instance) []string // returns args after the config flag
		want  string                                    // in the stderr line
	}{
		{"wrong instance", func(t *testing.T, in *instance) []string {
			en, err := eickey.Sign(eickey.Draft{
				Expires: time.Now().Add(time.Minute), Instance: "i-0fedcba9876543210", Caller: caller,
				KeyLine: in.push(t, "x"),
			}, in.signer.SignEntry)
			if err != nil {
				t.Fatal(err)
			}
			in.mu.Lock()
			in.keysBody = string(eickey.Format([]eickey.Entry{en}))
			in.mu.Unlock()
			return []string{"alice"}
		}, "no-valid-key: every key published for alice was refused (1 wrong-instance)"},
		{"tampered", func(t *testing.T, in *instance) []string {
			en, err := eickey.Sign(eickey.Draft{Expires: time.Now().Add(time.Minute), Instance: instanceID, KeyLine: in.push(t, "x")}, in.signer.SignEntry)
			if err != nil {
				t.Fatal(err)
			}
			en.KeyLine = in.push(t, "y")
			in.mu.Lock()
			in.keysBody = string(eickey.Format([]eickey.Entry{en}))
			in.mu.Unlock()
			return []string{"alice"}
		}, "1 bad-signature"},
		{"path traversal in user", func(t *testing.T, in *instance) []string {
			return []string{"../../signer-cert"}
		}, "bad-user"},
		{"bad fingerprint", func(t *testing.T, in *instance) []string {
			in.push(t, "alice")
			return []string{"alice", "not-a-fingerprint"}
		}, "bad-fingerprint"},
		{"untrusted roots", func(t *testing.T, in *instance) []string {
			in.push(t, "alice")
			other, err := signer.New(region)
			if err != nil {
				t.Fatal(err)
			}
			roots := filepath.Join(filepath.Dir(in.config), "roots.pem")
			if err := os.WriteFile(roots, other.RootPEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"alice"}
		}, "untrusted-signer"},
		{"unknown config key", func(t *testing.T, in *instance) []string {
			in.push(t, "alice")
			in.writeConfig(t, "imds = \"http://127.0.0.1:1\"\n")
			return []string{"alice"}
		}, "bad-config: hostconfig: unknown key(s) imds"},
		{"roots file writable by others", func(t *testing.T, in *instance) []string {
			in.push(t, "alice")
			if err := os.Chmod(filepath.Join(filepath.Dir(in.config), "roots.pem"), 0o666); err != nil {
				t.Fatal(err)
			}
			return []string{"alice"}
		}, "writable by group or others"},
		{"audit file unavailable", func(t *testing.T, in *instance) []string {
			in.push(t, "alice")
			text, err := os.ReadFile(in.config)
			if err != nil {
				t.Fatal(err)
			}
			in.writeConfig(t, strings.Replace(string(text), in.audit, filepath.Join(in.audit, "missing", "audit.jsonl"), 1))
			return []string{"alice"}
		}, "audit-unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := newInstance(t)
			args := tt.setup(t, in)
			code, out, errOut := run(append([]string{"authorized-keys", "--config", in.config, "--"}, args...)...)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and nothing printed", code, out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "jitssh-host: ") || !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q, want one line mentioning %q", errOut, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"authorized-keys"},
		{"authorized-keys", "a", "b", "c"},
		{"authorized-keys", "--nope", "alice"},
		{"no-such-command"},
	} {
		code, out, errOut := run(args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errOut)
		}
	}
	code, out, _ := run("authorized-keys", "--help")
	if code != 0 || !strings.Contains(out, "AuthorizedKeysCommand /usr/local/bin/jitssh-host authorized-keys -- %u %f") {
		t.Errorf("--help: exit %d, output lacks the sshd_config example:\n%s", code, out)
	}
	// A user name after USER's position is data, never a flag.
	in := newInstance(t)
	code, out, errOut := run("authorized-keys", "--config", in.config, "alice", "--config=/dev/null")
	if code != 1 || out != "" || !strings.Contains(errOut, "bad-fingerprint") {
		t.Errorf("flag-looking fingerprint: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestBinary runs the built command as sshd does: empty environment,
// arguments only.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds jitssh-host")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "jitssh-host")
	build := exec.Command("go", "build", "-o", bin, "github.com/jitssh/jitssh/cmd/jitssh-host")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	in := newInstance(t)
	key := in.push(t, "alice")

	runBin := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), o.String(), e.String()
	}
	start := time.Now()
	code, out, errOut := runBin("authorized-keys", "--config", in.config, "--", "alice", fingerprint(t, key))
	if code != 0 || out != key+"\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Logf("jitssh-host authorized-keys took %v", time.Since(start))

	code, out, errOut = runBin("authorized-keys", "--config", in.config, "--", "alice/../../x")
	if code != 1 || out != "" || !strings.Contains(errOut, "bad-user") {
		t.Errorf("bad user: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if events := in.auditEvents(t); len(events) != 2 || events[1]["event"] != "request-refused" || events[1]["reason"] != "bad-user" {
		t.Errorf("audit = %v", events)
	}
}

// TestRealSSHD logs in through the real OpenSSH sshd (sshd -i, spliced to
// the real ssh client by ProxyCommand) with jitssh-host as its
// AuthorizedKeysCommand: the key is accepted only because IMDS published it.
func TestRealSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("builds jitssh-host and runs sshd")
	}
	// CI sets JITSSH_REQUIRE_SSHD=1: there a skip is a failure.
	skip := func(why string) {
		t.Helper()
		if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
			t.Fatalf("JITSSH_REQUIRE_SSHD=1 but %s", why)
		}
		t.Skip(why)
	}
	sshd, sshc := "/usr/sbin/sshd", "ssh"
	if _, err := os.Stat(sshd); err != nil {
		skip("no /usr/sbin/sshd")
	}
	if _, err := exec.LookPath(sshc); err != nil {
		skip("no ssh client")
	}
	if os.Geteuid() != 0 {
		skip("sshd -i needs root")
	}
	t.Parallel()
	// sshd insists that the command and every directory above it are
	// root-owned and not writable by others, which rules out /tmp.
	cache, err := os.UserCacheDir()
	if err != nil {
		skip(err.Error())
	}
	binDir, err := os.MkdirTemp(cache, "jitssh-host-test-")
	if err != nil {
		skip(err.Error())
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "jitssh-host")
	if out, err := exec.Command("go", "build", "-o", binDir+"/", "github.com/jitssh/jitssh/cmd/jitssh-host", "github.com/jitssh/jitssh/cmd/jitssh-authkeys").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	in := newInstance(t)
	dir := t.TempDir()
	clientKey := filepath.Join(dir, "id_ed25519")
	hostKey := filepath.Join(dir, "host_ed25519")
	for _, k := range []string{clientKey, hostKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	readLine := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte("jitssh-test "+readLine(hostKey+".pub")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sshdConfig := filepath.Join(dir, "sshd_config")
	conf := strings.Join([]string{
		"HostKey " + hostKey,
		"AuthorizedKeysFile none",
		"AuthorizedKeysCommand " + bin + " authorized-keys --config " + in.config + " -- %u %f",
		"AuthorizedKeysCommandUser root",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PidFile none",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
	if err := os.WriteFile(sshdConfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// jitssh-authkeys with no key service: it hands over to jitssh-host
	// next to it (with --config), or refuses with --fallback none.
	noService := filepath.Join(dir, "no-such-dir", "keys")
	fallbackConfig := filepath.Join(dir, "sshd_config_fallback")
	noFallbackConfig := filepath.Join(dir, "sshd_config_nofallback")
	for file, flags := range map[string]string{fallbackConfig: "--config " + in.config, noFallbackConfig: "--fallback none"} {
		c := strings.Replace(conf, "AuthorizedKeysCommand "+bin+" authorized-keys --config "+in.config,
			"AuthorizedKeysCommand "+filepath.Join(binDir, "jitssh-authkeys")+" --socket "+noService+" "+flags, 1)
		if err := os.WriteFile(file, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	login := func(config ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cfg := sshdConfig
		if len(config) > 0 {
			cfg = config[0]
		}
		cmd := exec.CommandContext(ctx, sshc, "-F", "/dev/null",
			"-i", clientKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile="+knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "ProxyCommand="+sshd+" -i -e -f "+cfg,
			"root@jitssh-test", "echo", "logged-in")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := login(); err == nil {
		t.Fatalf("login succeeded before any key was pushed:\n%s", out)
	}
	in.world.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: "root", PublicKey: readLine(clientKey + ".pub"), Caller: caller, RequestID: "req-sshd"})
	out, err := login()
	if err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login with the pushed key: %v\n%s", err, out)
	}
	events := in.auditEvents(t)
	if len(events) == 0 || events[len(events)-1]["event"] != "key-served" || events[len(events)-1]["request_id"] != "req-sshd" {
		t.Errorf("audit = %v", events)
	}
	if out, err := login(fallbackConfig); err != nil || !strings.Contains(out, "logged-in") {
		t.Fatalf("login through jitssh-authkeys falling back to jitssh-host: %v\n%s", err, out)
	}
	// sshd asks once for the key query and once for the signed attempt.
	if after := in.auditEvents(t); len(after) <= len(events) || after[len(after)-1]["event"] != "key-served" {
		t.Errorf("audit after the fallback login = %v", after[len(events):])
	}
	if out, err := login(noFallbackConfig); err == nil || strings.Contains(out, "logged-in") {
		t.Fatalf("login through jitssh-authkeys --fallback none without a service succeeded:\n%s", out)
	}
}
