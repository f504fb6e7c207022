package awsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/awscreds"
)

// mfaUserProfile reports whether the SDK takes its credentials from sc,
// a profile with an IAM user's static keys and mfa_serial but no
// role_arn: jitssh then uses GetSessionToken with the MFA code (for
// policies that require aws:MultiFactorAuthPresent of the user's own
// calls), where the SDK alone would ignore mfa_serial.
func mfaUserProfile(env config.EnvConfig, opts Options, sc *config.SharedConfig) bool {
	if sc == nil || sc.RoleARN != "" || sc.MFASerial == "" || !sc.Credentials.HasKeys() || sc.CredentialProcess != "" {
		return false
	}
	// keys in the environment win over AWS_PROFILE, not over --profile
	return opts.Profile != "" || !env.Credentials.HasKeys()
}

// sessionTokenProvider is the MFA session of an IAM user's profile:
// GetSessionToken (STS's default duration, 12 hours) through the
// Assumer, so that it is prompted for once and cached like a role's.
type sessionTokenProvider struct {
	sts     *sts.Client // signed with the user's static keys
	keyID   string
	serial  string
	assumer *awscreds.Assumer
}

func (p *sessionTokenProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	e, err := p.assumer.SessionToken(ctx, p.keyID, p.serial, func(ctx context.Context, code string) (*awscreds.Entry, error) {
		out, err := p.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(p.serial), TokenCode: aws.String(code)})
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				return nil, &awscreds.AssumeRoleError{Profile: p.assumer.Profile, Serial: p.serial, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
			}
			return nil, fmt.Errorf("sts:GetSessionToken: %w", err)
		}
		if out.Credentials == nil {
			return nil, errors.New("sts:GetSessionToken: no credentials in the answer")
		}
		return &awscreds.Entry{
			AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken: aws.ToString(out.Credentials.SessionToken), Expiration: aws.ToTime(out.Credentials.Expiration),
		}, nil
	})
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken,
		Source: "jitssh GetSessionToken (MFA)", CanExpire: true, Expires: e.Expiration}, nil
}

// withMFASession replaces cfg's credentials (the user's static keys) by
// their MFA session.
func withMFASession(cfg *aws.Config, sc *config.SharedConfig, assumer *awscreds.Assumer) {
	p := &sessionTokenProvider{sts: sts.NewFromConfig(*cfg), keyID: sc.Credentials.AccessKeyID, serial: sc.MFASerial, assumer: assumer}
	cfg.Credentials = aws.NewCredentialsCache(p)
}
