package sshkeys

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/privfile"

	"github.com/jitssh/jitssh/internal/testtool"
)

func TestGenerateAndAuthorizedKey(t *testing.T) {
	k, err := Generate("")
	if err != nil {
		t.Fatal(err)
	}
	line := k.AuthorizedKey()
	if !strings.HasPrefix(line, "ssh-ed25519 AAAA") || !strings.HasSuffix(line, " jitssh-ephemeral") {
		t.Errorf("AuthorizedKey() = %q, want \"ssh-ed25519 AAAA… jitssh-ephemeral\"", line)
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("authorized_keys line does not parse: %v", err)
	}
	if comment != DefaultComment || len(rest) != 0 {
		t.Errorf("parsed comment %q rest %q", comment, rest)
	}
	if !bytes.Equal(pub.Marshal(), k.PublicKey().Marshal()) {
		t.Error("parsed key differs from the generated one")
	}
	if fp := k.Fingerprint(); !strings.HasPrefix(fp, "SHA256:") || strings.HasSuffix(fp, "=") {
		t.Errorf("Fingerprint() = %q, want OpenSSH's unpadded SHA256:… form", fp)
	}
	k2, err := Generate("other")
	if err != nil {
		t.Fatal(err)
	}
	if k2.Fingerprint() == k.Fingerprint() {
		t.Error("two generated keys share a fingerprint")
	}
	if _, err := Generate("two\nlines"); err == nil {
		t.Error("Generate accepted a multi-line comment")
	}
}

func TestWriteKeyFile(t *testing.T) {
	k, err := Generate("")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(base, "keys", "root@i-0123456789abcdef0")
	if err := k.WriteKeyFile(path); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")) {
		t.Errorf("key file does not start with the OpenSSH PEM header: %q", data[:40])
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Fingerprint() != k.Fingerprint() {
		t.Error("key read back differs")
	}

	// The real ssh-keygen must read the file and derive the same public key.
	out, err := exec.Command(testtool.Need(t, "ssh-keygen", "apt-get install openssh-client"), "-y", "-f", path).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -y: %v", err)
	}
	if got, want := strings.Fields(string(out))[1], strings.Fields(k.AuthorizedKey())[1]; got != want {
		t.Errorf("ssh-keygen derived %s, want %s", got, want)
	}
}

func TestWriteKeyFileRefusals(t *testing.T) {
	k, err := Generate("")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}

	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKeyFile(filepath.Join(shared, "k")); !errors.Is(err, privfile.ErrUnsafe) {
		t.Errorf("write into a world-writable directory: err = %v, want ErrUnsafe", err)
	}

	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteKeyFile(link); !errors.Is(err, privfile.ErrUnsafe) {
		t.Errorf("write through a symlink: err = %v, want ErrUnsafe", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious" {
		t.Errorf("symlink target overwritten: %q", got)
	}
}

func FuzzParse(f *testing.F) {
	k, err := Generate("")
	if err != nil {
		f.Fatal(err)
	}
	data, err := k.MarshalPrivate()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\n\n-----END OPENSSH PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			return
		}
		if k.PublicKey().Type() != ssh.KeyAlgoED25519 {
			t.Errorf("Parse returned a %s key", k.PublicKey().Type())
		}
	})
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(base, "keys", "root@i-0123456789abcdef0")
	const n = 16
	fps := make(chan string, n)
	created := make(chan bool, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, c, err := LoadOrCreate(path, "")
			if err != nil {
				t.Error(err)
				return
			}
			fps <- k.Fingerprint()
			created <- c
		}()
	}
	wg.Wait()
	close(fps)
	close(created)
	first := ""
	for fp := range fps {
		if first == "" {
			first = fp
		}
		if fp != first {
			t.Fatalf("concurrent callers got different keys: %s and %s", first, fp)
		}
	}
	nCreated := 0
	for c := range created {
		if c {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d callers report creating the key, want exactly 1", nCreated)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	k, c, err := LoadOrCreate(path, "")
	if err != nil || c || k.Fingerprint() != first {
		t.Errorf("later LoadOrCreate = %v, created=%v, %v; want the same key reused", k.Fingerprint(), c, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want just the key", len(entries))
	}
}

func TestLoadOrCreateRefusesUnsafeFile(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o700); err != nil {
		t.Fatal(err)
	}
	k, err := Generate("")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := k.MarshalPrivate()
	open := filepath.Join(base, "open")
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(open, ""); !errors.Is(err, privfile.ErrUnsafe) {
		t.Errorf("world-readable key file: err = %v, want ErrUnsafe", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(open, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(link, ""); !errors.Is(err, privfile.ErrUnsafe) {
		t.Errorf("symlinked key file: err = %v, want ErrUnsafe", err)
	}
}
