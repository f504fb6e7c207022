package sshd

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

const testInstance = "i-0123456789abcdef0"

// clientKey is a key pair for the real ssh client, written to a file.
type clientKey struct {
	path string
	pub  ssh.PublicKey
}

func newClientKey(t *testing.T, dir, name string) clientKey {
	t.Helper()
	k := testkeys.New(t)
	return clientKey{path: k.WriteFile(t, dir, name, name), pub: k.Public}
}

func (k clientKey) line() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.pub))) + " test-key"
}

// harness exposes a Server's Open on a loopback TCP port for the real ssh.
type harness struct {
	t          *testing.T
	srv        *Server
	port       string
	knownHosts string
	good, bad  clientKey
	dir        string
}

func requireRealSSHD(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := os.Stat(DefaultSSHDPath); err != nil {
		why = fmt.Sprintf("OpenSSH server not installed (%s missing; apt-get install openssh-server)", DefaultSSHDPath)
	} else if os.Geteuid() != 0 {
		why = "OpenSSH mode needs root"
	}
	if why == "" {
		return
	}
	if os.Getenv("JITSSH_REQUIRE_SSHD") == "1" {
		t.Fatalf("JITSSH_REQUIRE_SSHD=1 but %s", why)
	}
	t.Skip(why)
}

func requireSSHClient(t *testing.T) {
	t.Helper()
	for _, b := range []string{"ssh", "scp"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("OpenSSH client %s not installed", b)
		}
	}
}

// newHarness starts a server in mode with an authorizer that accepts
// h.good for user root only.
func newHarness(t *testing.T, mode Mode, realHostname bool) *harness {
	t.Helper()
	requireSSHClient(t)
	dir := t.TempDir()
	h := &harness{t: t, dir: dir}
	h.good = newClientKey(t, dir, "good")
	h.bad = newClientKey(t, dir, "bad")
	cfg := Config{
		InstanceID:   testInstance,
		Hostname:     "ip-10-0-3-7.ec2.internal",
		StateDir:     filepath.Join(dir, "state"),
		Mode:         mode,
		RealHostname: realHostname,
	}
	switch mode {
	case OpenSSH:
		requireRealSSHD(t)
		keys := filepath.Join(dir, "authorized_keys")
		if err := os.WriteFile(keys, []byte(h.good.line()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		calls := filepath.Join(dir, "akc-calls")
		script := filepath.Join(dir, "akc.sh")
		body := fmt.Sprintf("#!/bin/sh\necho \"$1 $2\" >> %q\n[ \"$1\" = root ] || exit 0\ncat %q\n", calls, keys)
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		safe, cleanup, err := InstallSafeBinary(script)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		cfg.AuthorizedKeysCommand = []string{safe, "%u", "%f"}
	case Embedded:
		want := h.good.line()
		cfg.Authorize = func(ctx context.Context, user, fingerprint string) ([]string, error) {
			if user != "root" {
				return nil, nil
			}
			return []string{want}, nil
		}
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h.srv = srv
	if srv.Mode() != mode {
		t.Fatalf("server runs %v, want %v", srv.Mode(), mode)
	}

	h.knownHosts = filepath.Join(dir, "known_hosts")
	kh := testInstance + " " + string(ssh.MarshalAuthorizedKey(srv.HostKey()))
	if err := os.WriteFile(h.knownHosts, []byte(kh), 0o600); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	_, h.port, _ = net.SplitHostPort(ln.Addr().String())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.splice(c.(*net.TCPConn))
		}
	}()
	return h
}

// splice connects one accepted TCP connection to a fresh Open().
func (h *harness) splice(c *net.TCPConn) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sc, err := h.srv.Open(ctx)
	if err != nil {
		h.t.Errorf("Open: %v", err)
		return
	}
	defer sc.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(sc, c)
		sc.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		io.Copy(c, sc)
		c.CloseWrite()
	}()
	wg.Wait()
}

func (h *harness) common(key clientKey) []string {
	return []string{
		"-F", "none",
		"-o", "HostKeyAlias=" + testInstance,
		"-o", "UserKnownHostsFile=" + h.knownHosts,
		"-o", "StrictHostKeyChecking=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-i", key.path,
	}
}

// ssh runs the real ssh client; it returns stdout, stderr and the exit code.
func (h *harness) ssh(key clientKey, stdin string, args ...string) (string, string, int) {
	h.t.Helper()
	all := append(append(h.common(key), "-p", h.port), args...)
	return run(h.t, "ssh", stdin, all...)
}

func (h *harness) scp(t *testing.T, args ...string) {
	t.Helper()
	all := append(append(h.common(h.good), "-P", h.port), args...)
	if out, errOut, code := run(t, "scp", "", all...); code != 0 {
		_, verbose, _ := run(t, "scp", "", append([]string{"-v"}, all...)...)
		t.Fatalf("scp %v: exit %d\n%s%s\nwith -v:\n%s", args, code, out, errOut, verbose)
	}
}

func run(t *testing.T, name, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), errOut.String(), code
}

func TestRealClient(t *testing.T) {
	for _, mode := range []Mode{OpenSSH, Embedded} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, mode, false)
			target := "root@127.0.0.1"

			t.Run("hostname", func(t *testing.T) {
				out, errOut, code := h.ssh(h.good, "", target, "hostname")
				if code != 0 {
					t.Fatalf("ssh hostname: exit %d: %s", code, errOut)
				}
				want, _ := os.Hostname()
				if h.srv.SimulatesHostname() {
					want = "ip-10-0-3-7.ec2.internal"
				} else if SimulatedHostnames(mode) {
					t.Error("SimulatedHostnames says yes but the server does not simulate")
				}
				if got := strings.TrimSpace(out); got != want {
					t.Errorf("hostname over ssh = %q, want %q (simulated: %v)", got, want, h.srv.SimulatesHostname())
				}
			})

			t.Run("echo", func(t *testing.T) {
				out, errOut, code := h.ssh(h.good, "", target, "echo", "hello from the sandbox")
				if code != 0 || out != "hello from the sandbox\n" {
					t.Errorf("ssh echo: exit %d, stdout %q, stderr %q", code, out, errOut)
				}
			})

			t.Run("stdin stderr and exit status", func(t *testing.T) {
				out, errOut, code := h.ssh(h.good, "line one\nline two\n", target, "cat; echo oops >&2; exit 3")
				if code != 3 || out != "line one\nline two\n" || !strings.Contains(errOut, "oops") {
					t.Errorf("exit %d, stdout %q, stderr %q; want 3, the input, and oops", code, out, errOut)
				}
			})

			t.Run("env", func(t *testing.T) {
				out, _, code := h.ssh(h.good, "", "-o", "SetEnv=LC_JITSSH_TEST=passed", target, `echo "$LC_JITSSH_TEST"`)
				if code != 0 || out != "passed\n" {
					t.Errorf("LC_* variable: exit %d, stdout %q", code, out)
				}
			})

			t.Run("shell without pty", func(t *testing.T) {
				out, _, code := h.ssh(h.good, "echo via-shell\nexit 4\n", "-T", target)
				if code != 4 || !strings.Contains(out, "via-shell") {
					t.Errorf("shell: exit %d, stdout %q", code, out)
				}
			})

			t.Run("scp round trip", func(t *testing.T) {
				data := make([]byte, 300<<10)
				rand.Read(data)
				local := filepath.Join(h.dir, "upload.bin")
				if err := os.WriteFile(local, data, 0o644); err != nil {
					t.Fatal(err)
				}
				remoteDir := filepath.Join(h.dir, "remote")
				if err := os.Mkdir(remoteDir, 0o755); err != nil {
					t.Fatal(err)
				}
				remote := filepath.Join(remoteDir, "copy.bin")
				h.scp(t, local, "root@127.0.0.1:"+remote)
				back := filepath.Join(h.dir, "download.bin")
				h.scp(t, "root@127.0.0.1:"+remote, back)
				got, err := os.ReadFile(back)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("file changed on the way there and back (%d bytes in, %d out)", len(data), len(got))
				}
			})

			t.Run("wrong key refused", func(t *testing.T) {
				out, errOut, code := h.ssh(h.bad, "", target, "echo", "should not run")
				if code != 255 || strings.Contains(out, "should not run") || !strings.Contains(errOut, "Permission denied") {
					t.Errorf("wrong key: exit %d, stdout %q, stderr %q; want 255 and Permission denied", code, out, errOut)
				}
			})

			t.Run("unknown user refused", func(t *testing.T) {
				_, errOut, code := h.ssh(h.good, "", "nobody-here@127.0.0.1", "true")
				if code != 255 || !strings.Contains(errOut, "Permission denied") {
					t.Errorf("unknown user: exit %d, stderr %q", code, errOut)
				}
			})

			t.Run("accepted line in the log", func(t *testing.T) {
				log, err := os.ReadFile(h.srv.LogPath())
				if err != nil {
					t.Fatal(err)
				}
				want := "Accepted publickey for root from "
				fp := ssh.FingerprintSHA256(h.good.pub)
				found := false
				for _, line := range strings.Split(string(log), "\n") {
					if strings.Contains(line, want) && strings.Contains(line, "ED25519 "+fp) {
						found = true
					}
					if strings.Contains(line, "Accepted") && strings.Contains(line, ssh.FingerprintSHA256(h.bad.pub)) {
						t.Errorf("the refused key was accepted: %s", line)
					}
				}
				if !found {
					t.Errorf("%s has no %q line with %s:\n%s", h.srv.LogPath(), want, fp, log)
				}
				if mode == OpenSSH {
					calls, err := os.ReadFile(filepath.Join(h.dir, "akc-calls"))
					if err != nil || !strings.Contains(string(calls), "root "+fp) {
						t.Errorf("AuthorizedKeysCommand was not called with %%u %%f = root %s: %v\n%s", fp, err, calls)
					}
				}
			})
		})
	}
}

// TestRealHostname checks the other answer: with simulation off, hostname
// over ssh prints this machine's own name.
func TestRealHostname(t *testing.T) {
	for _, mode := range []Mode{OpenSSH, Embedded} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(t, mode, true)
			if h.srv.SimulatesHostname() {
				t.Fatal("RealHostname set but the server simulates")
			}
			out, errOut, code := h.ssh(h.good, "", "root@127.0.0.1", "hostname")
			want, _ := os.Hostname()
			if code != 0 || strings.TrimSpace(out) != want {
				t.Errorf("hostname = %q (exit %d, %s), want the real %q", out, code, errOut, want)
			}
		})
	}
}

func TestSimulatedHostnamesProbe(t *testing.T) {
	got := SimulatedHostnames(Auto)
	if os.Geteuid() != 0 && got {
		t.Error("SimulatedHostnames is true without root")
	}
	t.Logf("SimulatedHostnames on this machine: %v", got)
}

func TestHostKeyStable(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{InstanceID: testInstance, StateDir: dir, Mode: Embedded,
		Authorize: func(context.Context, string, string) ([]string, error) { return nil, nil }}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if ssh.FingerprintSHA256(a.HostKey()) != ssh.FingerprintSHA256(b.HostKey()) {
		t.Error("host key changed between two servers on the same state directory")
	}
	if a.HostKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("host key type %s, want ed25519", a.HostKey().Type())
	}
	fi, err := os.Stat(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key file: %v, mode %v", err, fi.Mode())
	}
}

func TestNewRejects(t *testing.T) {
	auth := func(context.Context, string, string) ([]string, error) { return nil, nil }
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no instance", Config{StateDir: t.TempDir(), Mode: Embedded, Authorize: auth}},
		{"no state dir", Config{InstanceID: testInstance, Mode: Embedded, Authorize: auth}},
		{"bad hostname", Config{InstanceID: testInstance, Hostname: "a b;reboot", StateDir: t.TempDir(), Mode: Embedded, Authorize: auth}},
		{"embedded without Authorize", Config{InstanceID: testInstance, StateDir: t.TempDir(), Mode: Embedded}},
		{"openssh without command", Config{InstanceID: testInstance, StateDir: t.TempDir(), Mode: OpenSSH}},
		{"openssh with unsafe command", Config{InstanceID: testInstance, StateDir: t.TempDir(), Mode: OpenSSH,
			AuthorizedKeysCommand: []string{filepath.Join(os.TempDir(), "akc"), "%u"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := New(tt.cfg); err == nil {
				s.Close()
				t.Error("New accepted the config")
			}
		})
	}
}

func TestRenderConfig(t *testing.T) {
	got, err := RenderConfig(testInstance, "/state/ssh_host_ed25519_key",
		[]string{"/run/jitssh-sandbox/bin-1/jitssh-host", "authorized-keys", "--config", `/s/a "b"\c.toml`, "%u", "%f"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nHostKey \"/state/ssh_host_ed25519_key\"\n",
		"\nAuthorizedKeysFile none\n",
		`AuthorizedKeysCommand /run/jitssh-sandbox/bin-1/jitssh-host "authorized-keys" "--config" "/s/a \"b\"\\c.toml" "%u" "%f"` + "\n",
		"\nAuthorizedKeysCommandUser root\n",
		"\nPasswordAuthentication no\n",
		"\nKbdInteractiveAuthentication no\n",
		"\nPermitRootLogin prohibit-password\n",
		"\nUsePAM yes\n",
		"\nSubsystem sftp internal-sftp\n",
		"\nPidFile none\n",
		"\nLogLevel VERBOSE\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sshd_config lacks %q:\n%s", want, got)
		}
	}
	if _, err := RenderConfig(testInstance, "/k", []string{"relative/akc"}, true); err == nil {
		t.Error("relative AuthorizedKeysCommand accepted")
	}
	if _, err := RenderConfig(testInstance, "/k", []string{"/a b/akc"}, true); err == nil {
		t.Error("AuthorizedKeysCommand path with a space accepted (sshd cannot quote the first word)")
	}
	if _, err := RenderConfig(testInstance, "/k", []string{"/akc", "x\nPermitRootLogin yes"}, true); err == nil {
		t.Error("argument with a newline accepted")
	}
}

func TestInstallSafeBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("InstallSafeBinary needs root")
	}
	src := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho safe\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkRootPath(src); err == nil {
		t.Errorf("%s under a world-writable /tmp passed the sshd path check", src)
	}
	path, cleanup, err := InstallSafeBinary(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRootPath(path); err != nil {
		t.Errorf("installed binary fails the check: %v", err)
	}
	out, err := exec.Command(path).Output()
	if err != nil || string(out) != "safe\n" {
		t.Errorf("installed binary: %q, %v", out, err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup left %s: %v", filepath.Dir(path), err)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"auto": Auto, "": Auto, "openssh": OpenSSH, "Embedded": Embedded} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
		if in != "" && in != "Embedded" && want.String() != in {
			t.Errorf("%v.String() = %q", want, want.String())
		}
	}
	if _, err := ParseMode("telnet"); err == nil {
		t.Error("ParseMode accepted telnet")
	}
}

func TestRenderFileConfig(t *testing.T) {
	got, err := RenderFileConfig(testInstance, "/state/ssh_host_ed25519_key", ".ssh/authorized_keys", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nAuthorizedKeysFile .ssh/authorized_keys\n", "\nStrictModes yes\n", "\nPermitRootLogin prohibit-password\n", "\nUsePAM yes\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("sshd_config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "AuthorizedKeysCommand") {
		t.Errorf("a file-keyed sshd_config has an AuthorizedKeysCommand:\n%s", got)
	}
	for _, bad := range []string{"", "/abs/keys", "a b", "x\nPermitRootLogin yes", "%h/.ssh/authorized_keys"} {
		if _, err := RenderFileConfig(testInstance, "/k", bad, true); err == nil {
			t.Errorf("AuthorizedKeysFile %q accepted", bad)
		}
	}
}
