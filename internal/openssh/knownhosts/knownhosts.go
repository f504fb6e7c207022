// Package knownhosts keeps jitssh's host-key pins: a file in OpenSSH's
// known_hosts format, one line per pinned key, keyed by an alias (the
// instance id), that OpenSSH enforces through UserKnownHostsFile with
// StrictHostKeyChecking yes.
//
// A pin is learned once, over a channel that AWS authenticates end to end
// (an SSM or EC2 Instance Connect Endpoint tunnel), with Learn; from then
// on the pinned key is enforced for every transport, including direct and
// bastion connections where a man in the middle is possible. Pin never
// replaces a pin silently: a different key is a *ChangedError that says
// what happened and how to re-learn deliberately (Forget, then connect).
//
// A pin belongs to one AWS account when the account was known as it was
// learned: its lines end with the known_hosts comment "account=<12-digit
// account id>" (OpenSSH ignores the comment field of "hostnames keytype
// base64 [comment]"). LookupPin returns that account, and Pin refuses to
// take a pin of one account for another (*AccountMismatchError). A line
// without it (written before pins kept their account, or by hand) is a
// legacy pin, valid for any account; it is never rewritten silently.
//
// The store accepts only lines it could have written itself: one exact
// alias per host field, no wildcards, hashed names or markers; a comment
// starting "account=" must be exactly that form, and all the lines of an
// alias must name the same account (or none). Anything else is an error
// (fail closed), because OpenSSH would apply such a line in ways Lookup
// could not see. Other comments are accepted, as they always were (a
// key copied from a .pub file ends in one), and make a legacy pin.
package knownhosts

import (
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
	"github.com/jitssh/jitssh/internal/targets"
)

// Store is a pin file. The zero value is not usable; set Path.
type Store struct {
	// Path of the known_hosts-format file. Its directory is created with
	// mode 0700 if missing and must not be writable by others.
	Path string
	// ForgetCommand is the command a user runs to drop a pin, without the
	// alias (e.g. "jitssh known-hosts forget"). It is quoted in
	// ChangedError messages; if empty, only the file is named.
	ForgetCommand string
}

// ValidAlias reports whether alias can key a pin: an instance id or host
// name of letters, digits, '.', '_' and '-' starting with a letter or
// digit, at most 253 characters, optionally in OpenSSH's "[name]:port"
// form (1 to 5 digits); no wildcard or other pattern characters. (Checked
// by hand rather than with a regexp: a counted repetition compiles to a
// large program at every jitssh start.)
func ValidAlias(alias string) bool {
	if strings.HasPrefix(alias, "[") {
		name, port, ok := strings.Cut(alias[1:], "]:")
		return ok && validName(name) && len(port) >= 1 && len(port) <= 5 && strings.Trim(port, "0123456789") == ""
	}
	return validName(alias)
}

// validName: [A-Za-z0-9][A-Za-z0-9._-]{0,252}.
func validName(s string) bool {
	if len(s) < 1 || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// entry is one parsed line of the pin file.
type entry struct {
	hosts   []string
	key     ssh.PublicKey
	account string // from an "account=" comment; "" for a legacy line
	line    int
}

// accountComment starts the comment of a pin line that names its account.
const accountComment = "account="

// commentAccount is the account a pin line's comment names: "" for no
// comment or another comment (a legacy pin), an error for a comment
// starting "account=" that is not exactly "account=<12 digits>".
func commentAccount(comment string) (string, error) {
	a, ok := strings.CutPrefix(comment, accountComment)
	if !ok {
		return "", nil
	}
	if !targets.ValidAccount(a) {
		return "", fmt.Errorf("comment %q: want %s<12-digit AWS account id> and nothing else", comment, accountComment)
	}
	return a, nil
}

// parse reads a pin file. Blank lines and comments are allowed; every
// other line must be "host[,host…] keytype base64 [comment]" with exact
// aliases, and the lines of one alias must name the same account.
func parse(data []byte) ([]entry, error) {
	entries, err := parseLines(data)
	if err != nil {
		return nil, err
	}
	return entries, checkAccounts(entries)
}

// checkAccounts fails if two lines of an alias name different accounts
// (or one an account and the other none): a pin is one account's.
func checkAccounts(entries []entry) error {
	first := map[string]entry{}
	for _, e := range entries {
		for _, h := range e.hosts {
			f, seen := first[h]
			if !seen {
				first[h] = e
				continue
			}
			if f.account != e.account {
				return fmt.Errorf("line %d: the pin of %s is for %s, but line %d pins it for %s: a pin belongs to one account",
					e.line, h, accountWord(e.account), f.line, accountWord(f.account))
			}
		}
	}
	return nil
}

func accountWord(a string) string {
	if a == "" {
		return "any account (no account= comment)"
	}
	return "account " + a
}

// parseLines reads the lines of a pin file, each on its own.
func parseLines(data []byte) ([]entry, error) {
	var entries []entry
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := bytes.TrimSpace(raw)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		marker, hosts, key, comment, rest, err := ssh.ParseKnownHosts(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if marker != "" {
			return nil, fmt.Errorf("line %d: @%s lines are not supported in the pin store", i+1, marker)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("line %d: more than one entry on the line", i+1)
		}
		for _, h := range hosts {
			if !ValidAlias(h) {
				return nil, fmt.Errorf("line %d: host %q is not an exact alias (wildcards, negations and hashed names are not supported)", i+1, h)
			}
		}
		if _, isCert := key.(*ssh.Certificate); isCert {
			return nil, fmt.Errorf("line %d: certificates cannot be pinned", i+1)
		}
		account, err := commentAccount(comment)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		entries = append(entries, entry{hosts: hosts, key: key, account: account, line: i + 1})
	}
	return entries, nil
}

// readData returns the pin file's bytes, nil if there is none.
func (s *Store) readData() ([]byte, error) {
	if s.Path == "" {
		return nil, errors.New("pin store path is not set")
	}
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pin store: %w", err)
	}
	return data, nil
}

func (s *Store) read() ([]byte, []entry, error) {
	data, err := s.readData()
	if err != nil || data == nil {
		return nil, nil, err
	}
	entries, err := parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("pin store %s: %w", s.Path, err)
	}
	return data, entries, nil
}

// keysFor returns the keys pinned for alias and the account they are
// pinned for ("" for a legacy pin; parse saw to it that there is one).
func keysFor(entries []entry, alias string) ([]ssh.PublicKey, string) {
	var (
		keys    []ssh.PublicKey
		account string
	)
	for _, e := range entries {
		for _, h := range e.hosts {
			if h == alias {
				keys, account = append(keys, e.key), e.account
				break
			}
		}
	}
	return keys, account
}

func checkAlias(alias string) error {
	if !ValidAlias(alias) {
		return fmt.Errorf("invalid host alias %q", alias)
	}
	return nil
}

// Lookup returns the keys pinned for alias, or none. A malformed pin file
// is an error, never an empty answer.
func (s *Store) Lookup(alias string) ([]ssh.PublicKey, error) {
	keys, _, err := s.LookupPin(alias)
	return keys, err
}

// LookupPin returns the keys pinned for alias, or none, and the account
// the pin belongs to: "" for a legacy pin (valid for any account). A
// malformed pin file is an error, never an empty answer.
func (s *Store) LookupPin(alias string) (keys []ssh.PublicKey, account string, err error) {
	if err := checkAlias(alias); err != nil {
		return nil, "", err
	}
	_, entries, err := s.read()
	if err != nil {
		return nil, "", err
	}
	keys, account = keysFor(entries, alias)
	return keys, account, nil
}

// Pin records keys for alias, as the pin of account (12 digits, or ""
// when it is not known: a legacy pin). With no pin yet, the keys are
// written (atomically, under a lock shared with other jitssh processes).
// A pin of another account (both known) is an *AccountMismatchError. If
// every key is already pinned, nothing changes (a legacy pin gains no
// account). Otherwise the existing pin stands and the error is a
// *ChangedError.
func (s *Store) Pin(alias, account string, keys []ssh.PublicKey) error {
	if err := checkAlias(alias); err != nil {
		return err
	}
	if account != "" && !targets.ValidAccount(account) {
		return fmt.Errorf("pin %s: invalid account %q", alias, account)
	}
	if len(keys) == 0 {
		return fmt.Errorf("pin %s: no keys", alias)
	}
	for _, k := range keys {
		if _, isCert := k.(*ssh.Certificate); isCert {
			return fmt.Errorf("pin %s: certificates cannot be pinned", alias)
		}
	}
	return s.locked(func() error {
		data, entries, err := s.read()
		if err != nil {
			return err
		}
		pinned, pinnedAccount := keysFor(entries, alias)
		if len(pinned) > 0 {
			if pinnedAccount != "" && account != "" && pinnedAccount != account {
				return &AccountMismatchError{Alias: alias, PinnedAccount: pinnedAccount, Account: account, File: s.Path}
			}
			for _, k := range keys {
				if !containsKey(pinned, k) {
					return &ChangedError{Alias: alias, File: s.Path, Pinned: pinned, Presented: keys, ForgetCommand: s.ForgetCommand}
				}
			}
			return nil
		}
		out := append([]byte(nil), data...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		var written []ssh.PublicKey
		for _, k := range keys {
			if containsKey(written, k) {
				continue
			}
			written = append(written, k)
			out = append(out, xknownhosts.Line([]string{alias}, k)...)
			if account != "" {
				out = append(out, " "+accountComment+account...)
			}
			out = append(out, '\n')
		}
		return privfile.WriteFile(s.Path, out, privfile.Options{Perm: 0o600})
	})
}

// Forget removes every pin for alias, whatever its account, and reports
// whether there was one. Lines of alias naming different accounts do not
// stop it (that is how such a file is repaired); other malformed lines do.
func (s *Store) Forget(alias string) (bool, error) {
	if err := checkAlias(alias); err != nil {
		return false, err
	}
	removed := false
	err := s.locked(func() error {
		data, err := s.readData()
		if err != nil || data == nil {
			return err
		}
		if _, err := parseLines(data); err != nil {
			return fmt.Errorf("pin store %s: %w", s.Path, err)
		}
		var out []byte
		for _, raw := range bytes.SplitAfter(data, []byte("\n")) {
			line := bytes.TrimSpace(raw)
			if len(line) == 0 || line[0] == '#' {
				out = append(out, raw...)
				continue
			}
			fields := strings.Fields(string(line))
			hosts := strings.Split(fields[0], ",")
			kept := hosts[:0]
			for _, h := range hosts {
				if h != alias {
					kept = append(kept, h)
				}
			}
			switch {
			case len(kept) == len(hosts):
				out = append(out, raw...)
			case len(kept) == 0:
				removed = true
			default:
				removed = true
				fields[0] = strings.Join(kept, ",")
				out = append(out, strings.Join(fields, " ")+"\n"...)
			}
		}
		if !removed {
			return nil
		}
		return privfile.WriteFile(s.Path, out, privfile.Options{Perm: 0o600})
	})
	if err != nil {
		return false, fmt.Errorf("forget %s: %w", alias, err)
	}
	return removed, nil
}

// locked runs fn holding an exclusive lock on "<Path>.lock", creating the
// store's directory (0700) first.
func (s *Store) locked(fn func() error) error {
	if s.Path == "" {
		return errors.New("pin store path is not set")
	}
	if err := privfile.MkdirPrivate(filepath.Dir(s.Path)); err != nil {
		return fmt.Errorf("pin store: %w", err)
	}
	unlock, err := lockFile(s.Path + ".lock")
	if err != nil {
		return fmt.Errorf("lock pin store: %w", err)
	}
	defer unlock()
	return fn()
}

func containsKey(keys []ssh.PublicKey, k ssh.PublicKey) bool {
	m := k.Marshal()
	for _, x := range keys {
		if bytes.Equal(x.Marshal(), m) {
			return true
		}
	}
	return false
}

// ChangedError reports that a host presented a key different from its pin.
// The pin is left as it was. Its Error is one line; Advice is the rest.
type ChangedError struct {
	Alias         string
	File          string
	Pinned        []ssh.PublicKey
	Presented     []ssh.PublicKey
	ForgetCommand string
}

func describe(keys []ssh.PublicKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Type() + " " + ssh.FingerprintSHA256(k)
	}
	return strings.Join(parts, ", ")
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("host key for %s has changed: pinned %s (in %s), but the host now presents %s",
		e.Alias, describe(e.Pinned), e.File, describe(e.Presented))
}

// Advice says what a changed key may mean and how to re-pin it (with
// ForgetCommand when set).
func (e *ChangedError) Advice() string {
	var b strings.Builder
	b.WriteString("Either the instance was rebuilt or given new host keys, or someone is intercepting the connection. The pin was not changed. ")
	b.WriteString("If you know why the key changed, ")
	if e.ForgetCommand != "" {
		fmt.Fprintf(&b, "run `%s %s` (or delete the %s line from %s)", e.ForgetCommand, e.Alias, e.Alias, e.File)
	} else {
		fmt.Fprintf(&b, "delete the %s line from %s", e.Alias, e.File)
	}
	b.WriteString(" and connect again: the key is then re-learned over the AWS-authenticated channel.")
	return b.String()
}

// AccountMismatchError is a pin learned for an instance id in one AWS
// account (PinnedAccount) met by an instance with that id in another
// (Account). Instance ids are unique across AWS, so the other one is a
// different machine claiming the id: the pin is left as it was and
// nothing connects. Its Error is one line; what to do is the caller's to
// word (jitssh's names the command that forgets the pin).
type AccountMismatchError struct {
	Alias         string // the instance id
	PinnedAccount string
	Account       string
	File          string
}

func (e *AccountMismatchError) Error() string {
	return fmt.Sprintf("the host key of %s was pinned in account %s, but this %s is in account %s (pin in %s)",
		e.Alias, e.PinnedAccount, e.Alias, e.Account, e.File)
}
