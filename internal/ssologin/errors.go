package ssologin

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// LoginRequiredError is an SSO session that needs a new sign-in: no
// cached token, an expired one that cannot be refreshed, or one the
// portal refused (revoked, signed out elsewhere).
type LoginRequiredError struct {
	Session *Session
	// Reason says which, in a few words.
	Reason string
	Err    error
}

func (e *LoginRequiredError) Error() string {
	s := fmt.Sprintf("%s (profile %s): %s", e.Session, e.Session.Profile, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *LoginRequiredError) Unwrap() error { return e.Err }

// AuthorizationError is a sign-in that did not complete: the user
// denied it, it expired before anyone approved it, or the browser came
// back with an error or a wrong state.
type AuthorizationError struct {
	// Code is the OAuth error (access_denied, expired_token,
	// invalid_state, …).
	Code string
	Err  error
}

func (e *AuthorizationError) Error() string {
	var s string
	switch e.Code {
	case "expired_token":
		s = "the sign-in request expired before it was approved"
	case "access_denied":
		s = "the sign-in was denied"
	case "invalid_state":
		s = "the browser's answer does not belong to this sign-in (state mismatch)"
	case "timeout":
		s = "no answer from the browser in time"
	default:
		s = "the sign-in failed: " + e.Code
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *AuthorizationError) Unwrap() error { return e.Err }

// apiCode is the AWS error code in err ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// refusedCodes are the OIDC and portal answers that mean "this token or
// client is no good": signing in again is the fix.
var refusedCodes = map[string]bool{
	"InvalidGrantException": true, "ExpiredTokenException": true, "InvalidClientException": true,
	"UnauthorizedClientException": true, "UnauthorizedException": true, "AccessDeniedException": true,
	"invalid_grant": true, "expired_token": true, "invalid_client": true, "unauthorized_client": true,
}

// Classify returns err as a *LoginRequiredError when it says s's token is
// missing, expired past refreshing, or refused by the portal (what the
// SDK's SSO credential provider returns then); other errors are returned
// unchanged.
func Classify(s *Session, err error) error {
	if err == nil || s == nil {
		return err
	}
	var lr *LoginRequiredError
	if errors.As(err, &lr) {
		return err
	}
	var (
		it *ssocreds.InvalidTokenError
		ae smithy.APIError
	)
	switch {
	case errors.As(err, &it):
		return &LoginRequiredError{Session: s, Reason: "the cached token is missing, expired or cannot be refreshed", Err: err}
	case errors.As(err, &ae) && ae.ErrorCode() == "UnauthorizedException":
		// AWS's answer alone: the SDK's chain around it (operation,
		// request id, status) says nothing more to the user.
		return &LoginRequiredError{Session: s, Reason: "the SSO portal refused the token (signed out or revoked)", Err: ae}
	}
	return err
}

// expiredReason words an expired token for LoginRequiredError.
func expiredReason(exp time.Time) string {
	return "the cached token expired at " + exp.UTC().Format(time.RFC3339)
}

// TokenProblem reports whether err is the SDK's SSO credential provider
// failing for want of a usable token (missing, expired past refreshing,
// refused by the portal), when the session it belongs to is not known
// (Classify words it when it is).
func TokenProblem(err error) bool {
	var it *ssocreds.InvalidTokenError
	return errors.As(err, &it)
}
