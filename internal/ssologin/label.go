package ssologin

import (
	"strings"

	"github.com/jitssh/jitssh/internal/targets"
)

// Ref names one role of one account reached through an SSO session: the
// profile label of a scope location ("sso:SESSION/ACCOUNT/ROLE"), which
// the location cache stores and `jitssh ssh` hands its proxy so that the
// proxy gets the same role's credentials. It holds no secret.
type Ref struct {
	Session string // the sso-session's name
	Account string // 12 digits
	Role    string // the role (permission set) name
}

// LabelPrefix starts every label.
const LabelPrefix = "sso:"

// String is the label "sso:SESSION/ACCOUNT/ROLE".
func (r Ref) String() string { return LabelPrefix + r.Session + "/" + r.Account + "/" + r.Role }

// IsLabel reports whether s has the label's prefix (ParseRef says whether
// it is a good one).
func IsLabel(s string) bool { return strings.HasPrefix(s, LabelPrefix) }

// ParseRef parses a label. The session is a profile-like name (letters,
// digits, _ . @ + -, at most 128), the account 12 digits, the role an IAM
// role name (letters, digits, + = , . @ _ -, at most 64).
func ParseRef(s string) (Ref, bool) {
	rest, ok := strings.CutPrefix(s, LabelPrefix)
	if !ok {
		return Ref{}, false
	}
	f := strings.Split(rest, "/")
	if len(f) != 3 {
		return Ref{}, false
	}
	r := Ref{Session: f[0], Account: f[1], Role: f[2]}
	if !validName(r.Session, 128, "_.@+-") || !targets.ValidAccount(r.Account) || !validName(r.Role, 64, "+=,.@_-") {
		return Ref{}, false
	}
	return r, true
}

// ValidRole reports whether s can be a role (permission set) name.
func ValidRole(s string) bool { return validName(s, 64, "+=,.@_-") }

func validName(s string, max int, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}
