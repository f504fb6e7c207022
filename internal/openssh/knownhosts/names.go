package knownhosts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/jitssh/jitssh/internal/openssh/privfile"
)

// Pins are keyed by instance id, but ssh asks about the name it was given
// (web-1, 10.0.1.11, web-1.eu-west-1, ...). The proxy, which resolved that
// name to an instance over AWS, records the pair in a names file next to
// the pins; KnownHostsCommand (see Answer) reads it to find the pin. The
// file holds "name instance-id" lines, latest wins, and only names the
// proxy resolved itself.

// NamesPath is the file mapping ssh host names to instance ids.
func (s *Store) NamesPath() string { return filepath.Join(filepath.Dir(s.Path), "names") }

// RememberName records that ssh host name resolved to instance id.
func (s *Store) RememberName(name, id string) error {
	if name == id {
		return nil
	}
	if !ValidAlias(name) || !ValidAlias(id) {
		return fmt.Errorf("remember host name: invalid name %q or id %q", name, id)
	}
	return s.locked(func() error {
		names, err := s.readNames()
		if err != nil {
			return err
		}
		if names[name] == id {
			return nil
		}
		names[name] = id
		var b bytes.Buffer
		b.WriteString("# ssh host name -> instance id, written by `jitssh proxy` after resolving the name over AWS\n")
		for n, i := range names {
			fmt.Fprintf(&b, "%s %s\n", n, i)
		}
		return privfile.WriteFile(s.NamesPath(), b.Bytes(), privfile.Options{Perm: 0o600})
	})
}

// InstanceFor returns the instance id recorded for name, or "".
func (s *Store) InstanceFor(name string) (string, error) {
	names, err := s.readNames()
	if err != nil {
		return "", err
	}
	return names[name], nil
}

func (s *Store) readNames() (map[string]string, error) {
	names := map[string]string{}
	data, err := os.ReadFile(s.NamesPath())
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host names: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !ValidAlias(f[0]) || !ValidAlias(f[1]) {
			return nil, fmt.Errorf("%s line %d: want \"name instance-id\"", s.NamesPath(), n)
		}
		names[f[0]] = f[1]
	}
	return names, nil
}

// Query is one KnownHostsCommand invocation (ssh's %H, %I, %t and %K).
type Query struct {
	Host    string // %H: the known_hosts name searched for, maybe "[name]:port"
	Reason  string // %I: HOSTNAME, ADDRESS or ORDER
	KeyType string // %t: type of the key the server offered (not for ORDER)
	Key     string // %K: base64 of that key (not for ORDER)
	// InstanceID is the instance Host names when it can be told from the
	// name itself (an instance id, possibly with a region suffix); the
	// names file is consulted otherwise.
	InstanceID string
	// Account, if set, is the account the caller believes the instance
	// is in (from what it knows without asking AWS): a pin of another
	// account is then not answered.
	Account string
}

// Answer returns the known_hosts lines OpenSSH should trust for q: the
// pins of the instance q.Host names, written for q.Host. When the server
// offered a key (HOSTNAME queries) and it differs from the pin, Answer
// returns a *ChangedError: the caller exits non-zero, so ssh stops with
// jitssh's explanation. No pin is an empty answer (ssh then refuses, as
// StrictHostKeyChecking yes demands) and a non-nil *NoPinError saying why.
// A pin of another account than q.Account (both known) is an empty answer
// too, and an *AccountMismatchError.
func (s *Store) Answer(q Query) ([]byte, error) {
	name := q.Host
	if strings.HasPrefix(name, "[") {
		if end := strings.Index(name, "]:"); end > 0 {
			name = name[1:end]
		}
	}
	if !ValidAlias(q.Host) {
		return nil, fmt.Errorf("invalid host %q", q.Host)
	}
	id := q.InstanceID
	if id == "" {
		var err error
		if id, err = s.InstanceFor(name); err != nil {
			return nil, err
		}
	}
	if id == "" {
		return nil, &NoPinError{Host: q.Host}
	}
	pinned, account, err := s.LookupPin(id)
	if err != nil {
		return nil, err
	}
	if len(pinned) == 0 {
		return nil, &NoPinError{Host: q.Host, InstanceID: id}
	}
	if account != "" && q.Account != "" && account != q.Account {
		return nil, &AccountMismatchError{Alias: id, PinnedAccount: account, Account: q.Account, File: s.Path}
	}
	if q.Reason == "HOSTNAME" && q.Key != "" {
		offered, err := parseOffered(q.KeyType, q.Key)
		if err != nil {
			return nil, err
		}
		if !containsKey(pinned, offered) {
			return nil, &ChangedError{Alias: id, File: s.Path, Pinned: pinned, Presented: []ssh.PublicKey{offered}, ForgetCommand: s.ForgetCommand}
		}
	}
	var out []byte
	for _, k := range pinned {
		out = append(out, xknownhosts.Line([]string{q.Host}, k)...)
		out = append(out, '\n')
	}
	return out, nil
}

func parseOffered(typ, b64 string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(typ + " " + b64))
	if err != nil {
		return nil, fmt.Errorf("host key offered by the server (%s): %w", typ, err)
	}
	return k, nil
}

// NoPinError says that no pin answers a KnownHostsCommand query. Pins are
// learned when jitssh's proxy first connects to an instance; the command
// line says so in its own words.
type NoPinError struct {
	Host       string
	InstanceID string // "" if the name is not known
}

func (e *NoPinError) Error() string {
	if e.InstanceID == "" {
		return fmt.Sprintf("no host key is pinned for %s", e.Host)
	}
	return fmt.Sprintf("no host key is pinned for %s (%s)", e.Host, e.InstanceID)
}
