package targets

import (
	"fmt"
	"strings"
)

// UserFromARN derives a default OS user name from the caller's identity
// (sts:GetCallerIdentity's ARN): the role session name of an assumed role
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), the name of an IAM user
// or of a federated user. Session names are often e-mail addresses, so
// only the part before '@' is used; the rest is lower-cased, characters a
// POSIX login name cannot have become '_', a leading digit, '.' or '-'
// gets a '_' in front, and the result is cut to 32 characters. The result
// always passes ValidUser. Root and unrecognised ARNs are an error.
func UserFromARN(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", fmt.Errorf("cannot derive a user name from %q: not an ARN", arn)
	}
	res := parts[5]
	var name string
	switch {
	case parts[2] == "sts" && strings.HasPrefix(res, "assumed-role/"):
		f := strings.Split(res, "/")
		name = f[len(f)-1]
		if len(f) < 3 {
			name = ""
		}
	case parts[2] == "iam" && strings.HasPrefix(res, "user/"):
		name = res[strings.LastIndex(res, "/")+1:]
	case parts[2] == "sts" && strings.HasPrefix(res, "federated-user/"):
		name = strings.TrimPrefix(res, "federated-user/")
	default:
		return "", &UserNameError{ARN: arn, Why: "not an assumed role, IAM user or federated user"}
	}
	if generatedSessionName(name) {
		return "", &UserNameError{ARN: arn, Why: fmt.Sprintf("%q is the name an SDK gives a role session the profile does not name: set role_session_name in the AWS profile", name)}
	}
	if at := strings.IndexByte(name, '@'); at >= 0 {
		name = name[:at]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, name)
	if name == "" {
		return "", &UserNameError{ARN: arn, Why: "empty name"}
	}
	if c := name[0]; (c >= '0' && c <= '9') || c == '.' || c == '-' {
		name = "_" + name
	}
	if len(name) > 32 {
		name = name[:32]
	}
	if err := ValidUser(name); err != nil {
		return "", err
	}
	return name, nil
}

// UserNameError is a caller's ARN that yields no login name: the user
// must be given (the command line says how).
type UserNameError struct {
	ARN string // the caller's ARN
	Why string // why it yields no name
}

func (e *UserNameError) Error() string {
	return fmt.Sprintf("cannot derive a user name from %s (%s)", e.ARN, e.Why)
}

// generatedSessionName reports whether a role session name is one an
// SDK made up because the profile sets no role_session_name: the Go SDK's
// aws-go-sdk-<unix nanoseconds>, botocore's (the AWS CLI's)
// botocore-session-<unix seconds>. It names no one.
func generatedSessionName(name string) bool {
	for _, prefix := range []string{"aws-go-sdk-", "botocore-session-"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}
