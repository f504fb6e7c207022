package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/connect"
	"github.com/jitssh/jitssh/internal/eice"
	"github.com/jitssh/jitssh/internal/keypush"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/openssh/sshkeys"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// advised is a library error with what to do about it, in the words of
// jitssh's commands and flags (which the libraries do not name).
type advised struct {
	err    error
	advice string
}

func (e *advised) Error() string { return e.err.Error() + e.advice }

func (e *advised) Unwrap() error { return e.err }

// advise adds to err what to do about the typed library errors in it:
// on its line, the commands and flags that help; on lines of their own,
// the advice the libraries keep apart from their one-line errors (AWS's
// refusals, a failed key placement). Other errors are returned as they are.
func advise(err error) error {
	var done *advised
	if err == nil || errors.As(err, &done) {
		return err // nothing to add, or added already
	}
	if a, ok := adviseCredentials(err); ok {
		return a
	}
	if a, ok := scopeAdvice(err); ok {
		return &advised{err, a}
	}
	a := flagAdvice(err)
	if a == "" {
		a = moreAdvice(err)
	}
	a += adviceLines(err)
	var unreachable *transport.UnreachableError
	if errors.As(err, &unreachable) {
		// the lookups that failed, shown in its text without their advice
		for _, e := range []error{unreachable.Facts.SSMErr, unreachable.Facts.EndpointErr} {
			if e != nil {
				a += adviceLines(e)
			}
		}
	}
	if a == "" {
		return err
	}
	return &advised{err, a}
}

// errText is err with its advice, for where errors are shown other than
// as the command's result (warnings, doctor's checks).
func errText(err error) string { return advise(err).Error() }

// anotherUser follows the explanation of a refused login.
const anotherUser = "jitssh: to log in as another user, put USER@ before the target, pass --user, or set User in ssh's config"

// flagAdvice is the advice that names commands and flags for the
// connection's typed errors, "" for none.
func flagAdvice(err error) string {
	var (
		unreachable *transport.UnreachableError
		noPublicIP  *transport.NoPublicIPError
		direct      *transport.DirectError
		managed     *connect.ManagedError
		noPrivate   *connect.NoPrivateKeyError
		notFound    *targets.NotFoundError
	)
	if a := ssoAdvice(err); a != "" {
		return a
	}
	switch {
	case errors.As(err, &unreachable) && unreachable.Instance.Managed:
		return fmt.Sprintf(" (`jitssh doctor %s`)", unreachable.Instance.ID)
	case errors.As(err, &unreachable):
		return fmt.Sprintf(". Use --via BASTION (--transport bastion) through a host in its VPC, create an EC2 Instance Connect Endpoint in its subnet, or get its SSM agent online (`jitssh doctor %s`)", unreachable.Instance.ID)
	case errors.As(err, &noPublicIP):
		return "; reach it with --transport ssm (SSM agent online), eice (an EC2 Instance Connect Endpoint in its VPC) or bastion --via a host that can"
	case errors.As(err, &direct):
		return "; try --transport ssm or eice"
	case errors.As(err, &managed) && managed.JumpHost:
		return "; reach managed instances with --transport ssm"
	case errors.As(err, &managed):
		return "; use --transport ssm or auto"
	case errors.As(err, &noPrivate):
		return " (with your own key (-i / --public-key), load it into the ssh-agent)"
	case errors.Is(err, connect.ErrNoKeyFile):
		return ": pass --identity-file (the ssh config block does)"
	case errors.As(err, &notFound) && notFound.ByID():
		return ": check the id and --region/--profile (`jitssh ls` lists instances)"
	case errors.As(err, &notFound):
		return "; `jitssh ls` lists instances"
	case errors.Is(err, connect.ErrBastionWithoutPins):
		return " (--no-pin)"
	}
	return ""
}

// moreAdvice is the advice naming commands and flags for the other
// libraries' typed errors, "" for none.
func moreAdvice(err error) string {
	var (
		timeout     *transport.TimeoutError
		callTimeout *awsapi.CallTimeoutError
		noPin       *knownhosts.NoPinError
		agentAdd    *sshkeys.AgentAddError
		noUser      *targets.UserNameError
	)
	switch {
	case errors.As(err, &timeout) && timeout.Look == transport.LookAgent:
		return fmt.Sprintf(" (`jitssh doctor %s`)", timeout.InstanceID)
	case errors.As(err, &timeout) && timeout.Look == transport.LookWithoutSSHD:
		return fmt.Sprintf("; `jitssh shell %s` reaches it without sshd", timeout.InstanceID)
	case errors.As(err, &timeout) && timeout.Look == transport.LookCalls, errors.As(err, &callTimeout):
		return "; run with -v to see each call"
	case errors.As(err, &noPin) && noPin.InstanceID == "":
		return ": jitssh learns an instance's key when `jitssh proxy` (the ProxyCommand) first connects to it"
	case errors.As(err, &noPin):
		return ": jitssh learns it when `jitssh proxy` first connects to it; was the proxy run with --no-pin?"
	case errors.As(err, &agentAdd):
		return " (it may refuse keys with a lifetime; use --key-store file)"
	case errors.As(err, &noUser):
		return ": pass --user or set default_user"
	case errors.Is(err, awsapi.ErrNoRegion):
		return ": pass --region, set AWS_REGION, or set region in your AWS profile"
	}
	return ""
}

// adviceLines is the advice the libraries keep apart from their errors,
// completed with what jitssh offers, each on a line of its own; "" for
// none.
func adviceLines(err error) string {
	var (
		api     *awsapi.APIError
		upgrade *eice.UpgradeError
		place   *keypush.PlaceKeyError
		noTrust *connect.NoTrustedChannelError
		changed *knownhosts.ChangedError
		account *knownhosts.AccountMismatchError
		s       string
	)
	switch {
	case errors.As(err, &api) && exportedCredentialsExpired(api):
		s += "\n  the temporary credentials exported in AWS_SESSION_TOKEN have expired, and nothing refreshes credentials exported in the environment: " +
			"export new ones, or use an AWS profile that can refresh them (role_arn, sso_session, web_identity_token_file, credential_process)"
	case errors.As(err, &api) && api.Advice != "":
		s += "\n  " + api.Advice + apiFix(api.Fix)
	}
	if errors.As(err, &upgrade) && upgrade.Advice != "" {
		s += "\n  " + upgrade.Advice + eiceFix(upgrade.Fix)
	}
	if errors.As(err, &place) && place.Advice() != "" {
		s += "\n  " + place.Advice()
		if place.AgentLate() {
			s += fmt.Sprintf(" (`jitssh doctor %s`)", place.InstanceID)
		}
	}
	if errors.As(err, &noTrust) {
		s += "\n  " + noTrust.Advice()
	}
	if errors.As(err, &changed) {
		s += "\n  " + changed.Advice()
	}
	if errors.As(err, &account) {
		s += "\n  " + pinAccountAdvice(account)
	}
	return s + tlsAdvice(err) + proxyAdvice(err) + kmsAdvice(err)
}

// pinAccountAdvice explains a pin of another account and how to re-learn
// it deliberately.
func pinAccountAdvice(e *knownhosts.AccountMismatchError) string {
	return fmt.Sprintf("The pin was learned for %s in account %s; this instance is in account %s. Instance ids are unique across AWS, so this is another machine claiming the id, and jitssh did not connect to it. "+
		"If you are sure it is the machine you mean, run `jitssh known-hosts forget %s` and connect again: its key is then learned over the AWS-authenticated channel, for account %s.",
		e.Alias, e.PinnedAccount, e.Account, e.Alias, e.Account)
}

// exportedCredentialsExpired reports whether AWS refused expired
// credentials while temporary ones are exported in the environment
// (which the SDK uses unless --profile says otherwise): signing in again
// does not replace those.
func exportedCredentialsExpired(api *awsapi.APIError) bool {
	return strings.HasPrefix(api.Code, "ExpiredToken") && os.Getenv("AWS_SESSION_TOKEN") != "" && os.Getenv("AWS_ACCESS_KEY_ID") != ""
}

// apiFix words what jitssh offers for an AWS error.
func apiFix(f awsapi.Fix) string {
	switch f {
	case awsapi.FixDoctor:
		return " (try `jitssh doctor`)"
	case awsapi.FixPolicyUser:
		return ": `jitssh policy user` prints a policy that grants what jitssh needs"
	case awsapi.FixPolicyManaged:
		return ": `jitssh policy user --managed-instances` prints a policy that grants it (AWS-RunShellScript on managed instances only)"
	case awsapi.FixImpersonation:
		return " (`jitssh policy scp` prints the impersonation SCP; --user names the OS user)"
	case awsapi.FixRegionProfile:
		return " and --region/--profile"
	case awsapi.FixPolicyRevoker:
		return ": `jitssh policy revoker` prints a policy that grants what revoke needs"
	case awsapi.FixSignIn:
		return ": `jitssh login` (with the --profile you use) signs in without the AWS CLI"
	}
	return ""
}

// eiceFix words what jitssh offers for a refused EICE tunnel.
func eiceFix(f eice.Fix) string {
	switch f {
	case eice.FixPolicyUser:
		return ": `jitssh policy user` prints a policy that grants what jitssh needs"
	case eice.FixOtherTransport:
		return ": use another transport (--transport ssm or direct) for other ports"
	}
	return ""
}
