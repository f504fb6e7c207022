package sshkeys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// LoadOrCreate returns the key stored at path, or generates one and stores
// it there if there is none; created reports which. Creation is exclusive
// (the file appears complete, or not at all, and the first of several
// concurrent callers wins while the others read its key), so every jitssh
// proxy started for the same IdentityFile ends up with the same key.
//
// This is what makes the IdentityFile scheme race-free: ssh reads the
// public half of an existing IdentityFile right after forking the
// ProxyCommand, so a proxy must never replace a key file that ssh may
// already have read. Reusing it (and pushing its public key again) keeps
// ssh's view and the pushed key the same; a missing file is read by ssh
// only at authentication time, after the proxy has written it.
//
// The parent directory is created 0700 and must pass privfile.CheckDir; a
// symlink, a non-ed25519 key or a file readable by others is refused.
func LoadOrCreate(path, comment string) (key *Key, created bool, err error) {
	dir := filepath.Dir(path)
	if err := privfile.MkdirPrivate(dir); err != nil {
		return nil, false, fmt.Errorf("key file %s: %w", path, err)
	}
	for attempt := 0; attempt < 3; attempt++ {
		k, err := readKeyFile(path)
		if err == nil {
			return k, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		k, err = Generate(comment)
		if err != nil {
			return nil, false, err
		}
		data, err := k.MarshalPrivate()
		if err != nil {
			return nil, false, err
		}
		tmp, err := privfile.CreateTemp(dir, "."+filepath.Base(path)+".new*")
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		_, werr := tmp.Write(data)
		if werr == nil {
			werr = tmp.Sync()
		}
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(tmp.Name())
			return nil, false, fmt.Errorf("key file %s: %w", path, werr)
		}
		// link(2) fails if path exists: exclusive, atomic creation.
		lerr := os.Link(tmp.Name(), path)
		os.Remove(tmp.Name())
		if lerr == nil {
			return k, true, nil
		}
		if !errors.Is(lerr, fs.ErrExist) {
			return nil, false, fmt.Errorf("key file %s: %w", path, lerr)
		}
		// Someone else created it first: read theirs.
	}
	return nil, false, fmt.Errorf("key file %s: keeps changing; giving up", path)
}

// readKeyFile reads an existing key file without following a symlink and
// insists on a private regular file.
func readKeyFile(path string) (*Key, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file: %w", path, privfile.ErrUnsafe)
	}
	if err := privfile.CheckPrivate(path, fi); err != nil {
		return nil, fmt.Errorf("key file %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// PublicKeyOf returns the authorized_keys line of the user's own key at
// path: path itself if it is a public key, else path+".pub", else the
// public half of path as an unencrypted private key. Encrypted keys need
// their .pub file next to them.
func PublicKeyOf(path string) (string, error) {
	for _, p := range []string{path, path + ".pub"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if k, comment, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
			if comment != "" {
				line += " " + comment
			}
			return line, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read key %s: %w", path, err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return "", fmt.Errorf("key %s: %w (an encrypted key needs its public half in %s.pub)", path, err, path)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), nil
}
