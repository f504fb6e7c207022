// Package testkeys is test support: fresh ed25519 SSH keys in the forms
// tests need (signer, public key, authorized_keys line, OpenSSH private key
// file). Production code never imports it (internal/archtest).
package testkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Key is a fresh ed25519 key.
type Key struct {
	Private ed25519.PrivateKey
	Public  ssh.PublicKey
	Signer  ssh.Signer
}

// New makes a fresh ed25519 key; it fails t if the system cannot.
func New(t testing.TB) Key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Private: priv, Public: sp, Signer: signer}
}

// Signer is New(t).Signer.
func Signer(t testing.TB) ssh.Signer {
	t.Helper()
	return New(t).Signer
}

// Public is New(t).Public.
func Public(t testing.TB) ssh.PublicKey {
	t.Helper()
	return New(t).Public
}

// AuthorizedKey is the key's authorized_keys form, "ssh-ed25519 AAAA…",
// without a comment or newline.
func (k Key) AuthorizedKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Public)))
}

// Line is the key's authorized_keys line with a comment (none when
// comment is empty), without a newline.
func (k Key) Line(comment string) string {
	if comment == "" {
		return k.AuthorizedKey()
	}
	return k.AuthorizedKey() + " " + comment
}

// WriteFile writes the private key as an OpenSSH key file (0600) named
// name in dir, with comment, and returns its path.
func (k Key) WriteFile(t testing.TB, dir, name, comment string) string {
	t.Helper()
	blk, err := ssh.MarshalPrivateKey(k.Private, comment)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
