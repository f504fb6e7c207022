// Package kms is the sandbox's AWS Key Management Service: the account's
// symmetric customer managed keys (declared in the configuration with an
// id, an optional alias and a key policy), their data keys
// (GenerateDataKey) and the decryption of those keys' ciphertext blobs
// (Decrypt) under the encryption context they were made with. Key material
// is random per sandbox run, so ciphertext blobs do not outlive it.
// Authorisation (key policies with the identity and SCP layers) is the
// caller's (package apis, with iam.EvaluateKeyPolicy).
package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/jitssh/jitssh/internal/policy"
)

// Key is one KMS key.
type Key struct {
	// ID is the key id (a UUID).
	ID string
	// Alias is the key's alias, "alias/NAME", or "".
	Alias string
	// Policy is the key policy.
	Policy policy.Document
	// Description is shown by DescribeKey.
	Description string
}

// Service holds the account's keys and their material.
type Service struct {
	region, account string
	keys            map[string]*entry // by key id
	aliases         map[string]string // alias/NAME -> key id
}

type entry struct {
	Key
	aead cipher.AEAD
}

// IDPattern is a key id.
var IDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// AliasPattern is an alias name (aws/ is reserved for AWS managed keys).
var AliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

// New returns the service of an account's keys.
func New(region, account string, keys []Key) (*Service, error) {
	s := &Service{region: region, account: account, keys: map[string]*entry{}, aliases: map[string]string{}}
	for _, k := range keys {
		if !IDPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("kms key id %q is not a UUID", k.ID)
		}
		if s.keys[k.ID] != nil {
			return nil, fmt.Errorf("kms key %s declared twice", k.ID)
		}
		if k.Alias != "" {
			if !AliasPattern.MatchString(k.Alias) || strings.HasPrefix(k.Alias, "alias/aws/") {
				return nil, fmt.Errorf("kms key %s: alias %q: want alias/NAME (letters, digits, /, _ and -; not alias/aws/)", k.ID, k.Alias)
			}
			if _, dup := s.aliases[k.Alias]; dup {
				return nil, fmt.Errorf("kms alias %s names two keys", k.Alias)
			}
			s.aliases[k.Alias] = k.ID
		}
		material := make([]byte, 32)
		if _, err := rand.Read(material); err != nil {
			return nil, err
		}
		b, _ := aes.NewCipher(material)
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s.keys[k.ID] = &entry{Key: k, aead: g}
	}
	return s, nil
}

// ARN returns a key's ARN.
func (s *Service) ARN(id string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":key/" + id
}

// Keys returns the keys, ordered by id.
func (s *Service) Keys() []Key {
	var out []Key
	for _, e := range s.keys {
		out = append(out, e.Key)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NotFoundError is a key reference that names no key (KMS's
// NotFoundException, with its text).
type NotFoundError struct{ Message string }

func (e *NotFoundError) Error() string { return e.Message }

// Resolve finds the key a KeyId parameter names: a key id, key ARN, alias
// name (alias/NAME) or alias ARN, as KMS accepts them.
func (s *Service) Resolve(ref string) (Key, error) {
	prefix := "arn:aws:kms:" + s.region + ":" + s.account + ":"
	switch {
	case strings.HasPrefix(ref, "alias/"), strings.HasPrefix(ref, prefix+"alias/"):
		name := strings.TrimPrefix(ref, prefix)
		if id, ok := s.aliases[name]; ok {
			return s.keys[id].Key, nil
		}
		return Key{}, &NotFoundError{Message: fmt.Sprintf("Alias %s%s is not found.", prefix, name)}
	case strings.HasPrefix(ref, prefix+"key/"):
		if e, ok := s.keys[strings.TrimPrefix(ref, prefix+"key/")]; ok {
			return e.Key, nil
		}
	case strings.HasPrefix(ref, "arn:"):
		// Another region's or account's key: not this sandbox's.
	default:
		if e, ok := s.keys[ref]; ok {
			return e.Key, nil
		}
		if !IDPattern.MatchString(ref) {
			return Key{}, &NotFoundError{Message: fmt.Sprintf("Invalid keyId '%s'", ref)}
		}
		ref = s.ARN(ref)
	}
	return Key{}, &NotFoundError{Message: fmt.Sprintf("Key '%s' does not exist", ref)}
}

// blob layout: version, key id (36 bytes), nonce (12), sealed data key.
const (
	blobVersion = 1
	idLen       = 36
	nonceLen    = 12
)

// ErrInvalidCiphertext is a ciphertext blob that is not one of this
// sandbox's, or is used with another encryption context (KMS's
// InvalidCiphertextException).
var ErrInvalidCiphertext = errors.New("invalid ciphertext")

// GenerateDataKey returns n random bytes and their ciphertext blob under
// key id, bound to encryption context ctx.
func (s *Service) GenerateDataKey(id string, n int, ctx map[string]string) (plaintext, blob []byte, err error) {
	e, ok := s.keys[id]
	if !ok {
		return nil, nil, &NotFoundError{Message: fmt.Sprintf("Key '%s' does not exist", s.ARN(id))}
	}
	plaintext = make([]byte, n)
	if _, err := rand.Read(plaintext); err != nil {
		return nil, nil, err
	}
	head := make([]byte, 1+idLen+nonceLen)
	head[0] = blobVersion
	copy(head[1:], id)
	if _, err := rand.Read(head[1+idLen:]); err != nil {
		return nil, nil, err
	}
	blob = e.aead.Seal(head, head[1+idLen:], plaintext, aad(ctx))
	return plaintext, blob, nil
}

// KeyOf returns the key id a ciphertext blob was made under.
func KeyOf(blob []byte) (string, error) {
	if len(blob) < 1+idLen+nonceLen+16 || blob[0] != blobVersion {
		return "", ErrInvalidCiphertext
	}
	return string(blob[1 : 1+idLen]), nil
}

// Decrypt returns the plaintext of a ciphertext blob made with context ctx.
func (s *Service) Decrypt(blob []byte, ctx map[string]string) ([]byte, error) {
	id, err := KeyOf(blob)
	if err != nil {
		return nil, err
	}
	e, ok := s.keys[id]
	if !ok {
		return nil, ErrInvalidCiphertext
	}
	p, err := e.aead.Open(nil, blob[1+idLen:1+idLen+nonceLen], blob[1+idLen+nonceLen:], aad(ctx))
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return p, nil
}

// aad is the encryption context in a canonical form (sorted, length-
// prefixed), the sealed key's additional data.
func aad(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = fmt.Appendf(b, "%d:%s%d:%s", len(k), k, len(ctx[k]), ctx[k])
	}
	return b
}

// DefaultPolicy is the key policy KMS gives a key created without one:
// the account's root principal may do anything with it, which lets the
// account's identity policies decide.
func DefaultPolicy(account string) policy.Document {
	return policy.Document{
		Version: "2012-10-17",
		Statement: []policy.Statement{{
			Sid:       "Enable IAM User Permissions",
			Effect:    policy.Allow,
			Principal: &policy.Principal{AWS: policy.Strings{"arn:aws:iam::" + account + ":root"}},
			Action:    policy.Strings{"kms:*"},
			Resource:  policy.Strings{"*"},
		}},
	}
}
