package policy

import (
	"errors"
	"regexp"
	"strings"
	"time"
)

// AccessActions are the actions that give a person access to an instance:
// a key for sshd, an SSM session (SSH, tunnels, a shell), an EC2 Instance
// Connect Endpoint tunnel, and Run Command (the key-placement script on
// managed instances). Revoke denies them.
var AccessActions = []string{
	"ec2-instance-connect:SendSSHPublicKey",
	"ec2-instance-connect:OpenTunnel",
	"ssm:StartSession",
	"ssm:SendCommand",
}

// RevokePrefix starts the name of every policy Revoke's documents are put
// under (an inline role policy or an SCP), followed by the person: what
// undoing a revocation looks for.
const RevokePrefix = "jitssh-revoke-"

// Person is whom a revocation is for: the value of the principal tag that
// names the OS user (User), or one IAM principal (PrincipalARN, an IAM
// user's ARN or a role session's).
type Person struct {
	User         string
	PrincipalARN string
}

// ErrPerson: a revocation needs exactly one of a user name and an ARN.
var ErrPerson = errors.New("a revocation names exactly one person: a user name or a principal ARN")

// ErrPrincipalARN: the ARN is not an IAM user's or a role session's.
var ErrPrincipalARN = errors.New("principal ARN must be an IAM user's (arn:aws:iam::ACCOUNT:user/NAME) or a role session's (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)")

var revokeNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

var (
	userARNPattern    = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::(\d{12}):user/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
	sessionARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]{1,64})/([\w+=,.@-]{2,64})$`)
)

// Validate checks p.
func (p Person) Validate() error {
	if (p.User == "") == (p.PrincipalARN == "") {
		return ErrPerson
	}
	if p.User != "" && !revokeNamePattern.MatchString(p.User) {
		return errors.New("user name " + quote(p.User) + " is not 1 to 64 of the characters IAM allows in tag values and names")
	}
	if p.PrincipalARN != "" && !userARNPattern.MatchString(p.PrincipalARN) && !sessionARNPattern.MatchString(p.PrincipalARN) {
		return ErrPrincipalARN
	}
	return nil
}

func quote(s string) string {
	if len(s) > 70 {
		s = s[:70] + "…"
	}
	return `"` + s + `"`
}

// Name returns the policy name a revocation of p is put under:
// RevokePrefix and the user name, or the principal's name (the user's,
// or ROLE.SESSION).
func (p Person) Name() string {
	if p.User != "" {
		return RevokePrefix + p.User
	}
	if m := sessionARNPattern.FindStringSubmatch(p.PrincipalARN); m != nil {
		return RevokePrefix + m[3] + "." + m[4]
	}
	if m := userARNPattern.FindStringSubmatch(p.PrincipalARN); m != nil {
		return RevokePrefix + "user." + m[3]
	}
	return RevokePrefix
}

// SessionName returns the name the person's SSM sessions and role
// sessions carry: the user name, or the ARN's session or user name.
func (p Person) SessionName() string {
	if p.User != "" {
		return p.User
	}
	if m := sessionARNPattern.FindStringSubmatch(p.PrincipalARN); m != nil {
		return m[4]
	}
	if m := userARNPattern.FindStringSubmatch(p.PrincipalARN); m != nil {
		return m[3]
	}
	return ""
}

// condition returns the condition that matches p's requests: the
// principal tag naming the OS user, or the principal itself (an IAM
// user's ARN; a role session's role and session name).
func (p Person) condition(o Options) Condition {
	if p.User != "" {
		return Condition{"StringEquals": {"aws:PrincipalTag/" + o.UserTag: {p.User}}}
	}
	if m := sessionARNPattern.FindStringSubmatch(p.PrincipalARN); m != nil {
		return Condition{
			"ArnEquals":  {"aws:PrincipalArn": {"arn:" + m[1] + ":iam::" + m[2] + ":role/" + m[3]}},
			"StringLike": {"aws:userid": {"*:" + m[4]}},
		}
	}
	return Condition{"ArnEquals": {"aws:PrincipalArn": {p.PrincipalARN}}}
}

// Revoke returns the deny a revocation puts in force, as an SCP or an
// inline role policy (the same document serves both): the person may no
// longer use AccessActions, and credentials the person was issued before
// issuedBefore may do nothing at all (AWS's "revoke active sessions",
// AWSRevokeOlderSessions, narrowed to the person). It grants nothing.
func Revoke(o Options, p Person, issuedBefore time.Time) Document {
	o = o.withDefaults()
	cond := p.condition(o)
	older := Condition{"DateLessThan": {"aws:TokenIssueTime": {issuedBefore.UTC().Format(time.RFC3339)}}}
	for op, kv := range cond {
		older[op] = kv
	}
	return Document{Version: Version, Statement: []Statement{{
		Sid: "JitsshRevokeAccess", Effect: Deny,
		Action: Strings(append([]string(nil), AccessActions...)), Resource: Strings{"*"}, Condition: cond,
	}, {
		Sid: "JitsshRevokeOlderSessions", Effect: Deny,
		Action: Strings{"*"}, Resource: Strings{"*"}, Condition: older,
	}}}
}

// IsRevoke reports whether d is a document Revoke wrote (its statements'
// Sids), so that undoing touches nothing else of the same name.
func IsRevoke(d Document) bool {
	if len(d.Statement) != 2 {
		return false
	}
	return d.Statement[0].Sid == "JitsshRevokeAccess" && strings.HasPrefix(d.Statement[1].Sid, "JitsshRevokeOlderSessions")
}
