package world

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/iam"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
)

// Role session limits, as in IAM and STS.
const (
	// DefaultMaxSession is a role's maximum session duration unless set.
	DefaultMaxSession = time.Hour
	// MaxMaxSession is the largest maximum session duration IAM allows.
	MaxMaxSession = 12 * time.Hour
	// MinSession is the shortest session STS issues.
	MinSession = 15 * time.Minute
	// ChainedMaxSession caps sessions of a role assumed with role
	// credentials (role chaining).
	ChainedMaxSession = time.Hour
)

// expiredKept is how long expired temporary credentials stay known, so
// that a request with them gets ExpiredToken rather than
// InvalidClientTokenId.
const expiredKept = 24 * time.Hour

// Role is an IAM role of the account.
type Role struct {
	Name string
	// ARN is arn:aws:iam::ACCOUNT:role/NAME (filled in by New when empty).
	ARN string
	// ID is the role's unique id, AROA… (derived from the name when empty).
	ID string
	// Trust is the role's trust policy: who may assume it (sts:AssumeRole,
	// sts:AssumeRoleWithWebIdentity, sts:TagSession).
	Trust policy.Document
	// Policies are the permissions of the role's sessions.
	Policies []policy.Document
	// Tags are the role's tags, principal tags of its sessions unless a
	// session tag of the same key overrides them.
	Tags map[string]string
	// MaxSession is the longest session AssumeRole may grant (0: 1 h).
	MaxSession time.Duration
}

// MFADevice is an IAM user's virtual MFA device.
type MFADevice struct {
	// Serial is the device's ARN, arn:aws:iam::ACCOUNT:mfa/NAME.
	Serial string
	// UserARN is the IAM user the device is assigned to.
	UserARN string
	// Secret is the TOTP seed (package totp).
	Secret []byte
}

// Credentials are temporary security credentials, as STS returns them.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// Temporary reports whether id holds temporary (session) credentials.
func (id Identity) Temporary() bool { return id.SessionToken != "" }

// RoleSession reports whether id is a role session (its ARN is
// arn:aws:sts::…:assumed-role/…).
func (id Identity) RoleSession() bool { return strings.Contains(id.ARN, ":assumed-role/") }

// Principal returns the identity as the IAM evaluator's principal in
// account: its ARN, user id, tags, and for temporary credentials the
// token's issue time and the MFA authentication time.
func (id Identity) Principal(account string) iam.Principal {
	return iam.Principal{ARN: id.ARN, UserID: id.UserID, Account: account, Tags: id.Tags,
		TokenIssueTime: id.TokenIssueTime, MFAAuthTime: id.MFAAuthTime}
}

// RoleID returns the unique id IAM would give a role named name in the
// sandbox: AROA and 17 upper-case characters derived from the name.
func RoleID(name string) string {
	sum := sha256.Sum256([]byte("role/" + name))
	return "AROA" + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

// addRoles validates and indexes cfg's roles and MFA devices.
func (w *World) addRoles(roles []Role, devices []MFADevice) error {
	w.roles = map[string]*Role{}
	for i := range roles {
		r := roles[i]
		if r.Name == "" {
			return fmt.Errorf("world: role %d has no name", i)
		}
		if _, dup := w.roles[r.Name]; dup {
			return fmt.Errorf("world: duplicate role %s", r.Name)
		}
		if r.ARN == "" {
			r.ARN = "arn:aws:iam::" + w.Account + ":role/" + r.Name
		}
		if r.ID == "" {
			r.ID = RoleID(r.Name)
		}
		if r.MaxSession == 0 {
			r.MaxSession = DefaultMaxSession
		}
		if r.MaxSession < time.Hour || r.MaxSession > MaxMaxSession {
			return fmt.Errorf("world: role %s: maximum session %s: want 1h to 12h", r.Name, r.MaxSession)
		}
		w.roles[r.Name] = &r
	}
	w.mfa = map[string]*mfaState{}
	for _, d := range devices {
		if d.Serial == "" || len(d.Secret) == 0 {
			return fmt.Errorf("world: MFA device %q needs a serial and a secret", d.Serial)
		}
		if _, dup := w.mfa[d.Serial]; dup {
			return fmt.Errorf("world: duplicate MFA device %s", d.Serial)
		}
		w.mfa[d.Serial] = &mfaState{dev: d}
	}
	return nil
}

// Role returns the role named name.
func (w *World) Role(name string) (Role, bool) {
	if w.iam != nil {
		return w.iam.Role(name)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	r, ok := w.roles[name]
	if !ok {
		return Role{}, false
	}
	return *r, true
}

// RoleByARN returns the role whose ARN is arn.
func (w *World) RoleByARN(arn string) (Role, bool) {
	name, ok := strings.CutPrefix(arn, "arn:aws:iam::"+w.Account+":role/")
	if !ok {
		return Role{}, false
	}
	r, ok := w.Role(name[strings.LastIndex(name, "/")+1:])
	if !ok || r.ARN != arn {
		return Role{}, false
	}
	return r, true
}

// Roles returns every role, ordered by name.
func (w *World) Roles() []Role {
	if w.iam != nil {
		return w.iam.Roles()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Role, 0, len(w.roles))
	for _, r := range w.roles {
		out = append(out, *r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// RoleSession returns the identity of a session of role r named
// sessionName (not yet issued credentials; see IssueSession): ARN
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, user id ROLEID:SESSION,
// the role's policies, and principal tags from sessionTags, then the
// role's tags for keys the session does not set (tag keys are
// case-insensitive, as in IAM).
func (w *World) RoleSession(r Role, sessionName string, sessionTags map[string]string) Identity {
	id := Identity{
		ARN:      "arn:aws:sts::" + w.Account + ":assumed-role/" + r.Name + "/" + sessionName,
		UserID:   r.ID + ":" + sessionName,
		Name:     r.Name,
		Policies: append([]policy.Document(nil), r.Policies...),
		Tags:     map[string]string{},
	}
	for k, v := range sessionTags {
		id.Tags[k] = v
	}
	for k, v := range r.Tags {
		if !hasKeyFold(id.Tags, k) {
			id.Tags[k] = v
		}
	}
	return id
}

func hasKeyFold(m map[string]string, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// IssueSession registers fresh temporary credentials for id, valid for ttl
// from now, and returns them. World.Identity then resolves the access key
// (ASIA…) to id with SessionToken, TokenIssueTime and Expiration set;
// requests must carry the session token (X-Amz-Security-Token), and
// expired ones get ExpiredToken. id's MFAAuthTime (zero: no MFA) is kept.
func (w *World) IssueSession(id Identity, ttl time.Duration) Credentials {
	if w.iam != nil {
		return w.iam.IssueSession(id, ttl)
	}
	now := w.now()
	if c := w.CredentialLifetime(); c > 0 && ttl > c {
		ttl = c
	}
	id.AccessKeyID = "ASIA" + randomUpper(16)
	id.SecretAccessKey = randomSecret()
	id.SessionToken = randomToken()
	id.TokenIssueTime = now.UTC().Truncate(time.Second)
	id.Expiration = id.TokenIssueTime.Add(ttl)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.temp == nil {
		w.temp = map[string]*Identity{}
	}
	for k, t := range w.temp {
		if now.Sub(t.Expiration) > expiredKept {
			delete(w.temp, k)
		}
	}
	w.temp[id.AccessKeyID] = &id
	return Credentials{AccessKeyID: id.AccessKeyID, SecretAccessKey: id.SecretAccessKey, SessionToken: id.SessionToken, Expiration: id.Expiration}
}

// MaxCredentialLifetime bounds SetCredentialLifetime.
const MaxCredentialLifetime = MaxMaxSession

// SetCredentialLifetime caps how long temporary credentials issued from
// now on last (STS, the Identity Center portal), whatever
// DurationSeconds asked for, so that tests meet expired credentials in
// seconds rather than hours (STS never issues fewer than 15 minutes); 0
// removes the cap. Credentials already issued keep their expiry.
func (w *World) SetCredentialLifetime(d time.Duration) error {
	if d < 0 || d > MaxCredentialLifetime || d > 0 && d < time.Second {
		return fmt.Errorf("credential lifetime %s: want 1s to %s, or 0 for no cap", d, MaxCredentialLifetime)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.credCap = d
	return nil
}

// CredentialLifetime is the cap SetCredentialLifetime set (0: none).
func (w *World) CredentialLifetime() time.Duration {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.credCap
}

// mfaState is an MFA device and the last time step it accepted.
type mfaState struct {
	dev      MFADevice
	lastUsed int64
}

// MFADevice returns the virtual MFA device whose serial (ARN) is serial.
func (w *World) MFADevice(serial string) (MFADevice, bool) {
	if w.iam != nil {
		return w.iam.MFADevice(serial)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	s, ok := w.mfa[serial]
	if !ok {
		return MFADevice{}, false
	}
	return s.dev, true
}

// MFADevices returns every MFA device, ordered by serial.
func (w *World) MFADevices() []MFADevice {
	if w.iam != nil {
		return w.iam.MFADevices()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]MFADevice, 0, len(w.mfa))
	for _, s := range w.mfa {
		out = append(out, s.dev)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Serial < out[b].Serial })
	return out
}

// CheckMFA verifies code against the device serial at the world's time
// and, when it is valid, marks its time step used so that the code (and
// any earlier one) is refused from then on, as AWS refuses a code used
// twice. The errors are totp's (ErrCodeFormat, ErrInvalidCode, ErrReused)
// or ErrNoMFADevice.
func (w *World) CheckMFA(serial, code string) error {
	if w.iam != nil {
		return w.iam.CheckMFA(serial, code)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.mfa[serial]
	if !ok {
		return ErrNoMFADevice
	}
	step, err := totp.Verify(s.dev.Secret, code, w.now(), s.lastUsed)
	if err != nil {
		return err
	}
	s.lastUsed = step
	return nil
}

// ErrNoMFADevice: no MFA device has the serial.
var ErrNoMFADevice = fmt.Errorf("no such MFA device")

// randomUpper returns n random upper-case letters and digits.
func randomUpper(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// randomSecret returns a 40-character secret access key.
func randomSecret() string {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}

// randomToken returns an opaque session token shaped like STS's (long
// base64 beginning IQoJb3JpZ2luX2Vj).
func randomToken() string {
	b := make([]byte, 256)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

// Credential returns what a SigV4 verifier needs to know of accessKeyID
// (secret, and for temporary credentials session token and expiry); it is
// awsproto.Verifier's Lookup.
func (w *World) Credential(accessKeyID string) (awsproto.Credential, bool) {
	id, ok := w.Identity(accessKeyID)
	return awsproto.Credential{Secret: id.SecretAccessKey, SessionToken: id.SessionToken, Expiration: id.Expiration}, ok
}
