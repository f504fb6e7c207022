// Package sshkeys makes the ephemeral ed25519 key pairs that jitssh pushes
// with EC2 Instance Connect, and puts their private half where OpenSSH
// will find it: in a running ssh-agent with a lifetime (Agent.Add), or in
// a file named by IdentityFile.
//
// A key lives in memory until WriteKeyFile puts it on disk in OpenSSH's own
// private-key format, mode 0600, atomically, and only inside a private
// directory (owned by the user, not writable by group or others), never
// through a symlink.
package sshkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// DefaultComment is the comment carried by authorized_keys lines of
// ephemeral keys, so that they are recognisable in logs and in IMDS.
const DefaultComment = "jitssh-ephemeral"

// Key is an in-memory ed25519 key pair.
type Key struct {
	priv    ed25519.PrivateKey
	signer  ssh.Signer
	comment string
}

// Generate makes a new ed25519 key pair with the given comment
// (DefaultComment if empty). The comment must be a single line.
func Generate(comment string) (*Key, error) {
	if comment == "" {
		comment = DefaultComment
	}
	if strings.ContainsAny(comment, "\r\n\x00") {
		return nil, fmt.Errorf("generate key: comment %q spans lines", comment)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return &Key{priv: priv, signer: signer, comment: comment}, nil
}

// Parse reads a private key written by WriteKeyFile (OpenSSH format,
// unencrypted). Only ed25519 keys are accepted. It lets a proxy reuse the
// key already sitting at an IdentityFile path (see the package sshconfig
// notes on why that matters).
func Parse(pemBytes []byte) (*Key, error) {
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	var priv ed25519.PrivateKey
	switch k := raw.(type) {
	case ed25519.PrivateKey:
		priv = k
	case *ed25519.PrivateKey:
		priv = *k
	default:
		return nil, fmt.Errorf("parse private key: %T is not an ed25519 key", raw)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	// x/crypto/ssh does not return the comment of a parsed key; it plays
	// no part in authentication, so the default is used.
	return &Key{priv: priv, signer: signer, comment: DefaultComment}, nil
}

// Signer returns the key as an ssh.Signer.
func (k *Key) Signer() ssh.Signer { return k.signer }

// PublicKey returns the public half.
func (k *Key) PublicKey() ssh.PublicKey { return k.signer.PublicKey() }

// Comment returns the comment written after the public key.
func (k *Key) Comment() string { return k.comment }

// AuthorizedKey returns the public key as one authorized_keys line without
// the trailing newline, e.g. "ssh-ed25519 AAAA… jitssh-ephemeral". This is
// the form SendSSHPublicKey takes.
func (k *Key) AuthorizedKey() string {
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k.PublicKey())), "\n")
	return line + " " + k.comment
}

// Fingerprint returns the SHA256 fingerprint as OpenSSH prints it
// ("SHA256:…", unpadded base64), the form sshd logs on "Accepted publickey".
func (k *Key) Fingerprint() string { return ssh.FingerprintSHA256(k.PublicKey()) }

// MarshalPrivate returns the private key in OpenSSH's PEM format
// ("-----BEGIN OPENSSH PRIVATE KEY-----"), unencrypted.
func (k *Key) MarshalPrivate() ([]byte, error) {
	blk, err := ssh.MarshalPrivateKey(k.priv, k.comment)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(blk), nil
}

// WriteKeyFile writes the private key to path, mode 0600, atomically.
// The parent directory is created with mode 0700 if missing; an existing
// parent must be owned by the current user and not writable by group or
// others, and neither path nor its parent may be a symlink. On any refusal
// nothing is written (the error wraps privfile.ErrUnsafe).
func (k *Key) WriteKeyFile(path string) error {
	data, err := k.MarshalPrivate()
	if err != nil {
		return err
	}
	if err := privfile.MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := privfile.WriteFile(path, data, privfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return nil
}
