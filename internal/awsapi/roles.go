package awsapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/awscreds"
)

// DefaultRoleDuration is the DurationSeconds jitssh asks AssumeRole for
// when a role profile sets no duration_seconds: STS's own default (what
// the AWS CLI gets, sending none), not the Go SDK's 15 minutes, so that
// a cached entry lasts as long as the CLI's.
const DefaultRoleDuration = time.Hour

// profileName is the profile the SDK loads: opts.Profile, else
// AWS_PROFILE (AWS_DEFAULT_PROFILE), else "default".
func profileName(env config.EnvConfig, opts Options) string {
	switch {
	case opts.Profile != "":
		return opts.Profile
	case env.SharedConfigProfile != "":
		return env.SharedConfigProfile
	}
	return "default"
}

// sharedConfigFiles are the config and credentials files the SDK reads
// (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/…).
func sharedConfigFiles(env config.EnvConfig) func(*config.LoadSharedConfigOptions) {
	return func(o *config.LoadSharedConfigOptions) {
		if env.SharedConfigFile != "" {
			o.ConfigFiles = []string{env.SharedConfigFile}
		}
		if env.SharedCredentialsFile != "" {
			o.CredentialsFiles = []string{env.SharedCredentialsFile}
		}
	}
}

// loadProfile reads the environment's AWS settings and the profile (with
// its source_profile chain; nil when there is no such profile:
// credentials from the environment alone).
func loadProfile(ctx context.Context, opts Options) (config.EnvConfig, string, *config.SharedConfig, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return env, "", nil, fmt.Errorf("read AWS environment: %w", err)
	}
	name := profileName(env, opts)
	sc, err := config.LoadSharedConfigProfile(ctx, name, sharedConfigFiles(env))
	var notExist config.SharedConfigProfileNotExistError
	if errors.As(err, &notExist) {
		return env, name, nil, nil
	}
	if err != nil {
		return env, name, nil, err
	}
	return env, name, &sc, nil
}

// roleArgs are the AssumeRole arguments of the role profiles of a
// chain, from the top.
func roleArgs(sc *config.SharedConfig) []awscreds.RoleArgs {
	var out []awscreds.RoleArgs
	for p, n := sc, 0; p != nil && n < 32; p, n = p.Source, n+1 {
		if p.RoleARN == "" || p.WebIdentityTokenFile != "" {
			continue
		}
		a := awscreds.RoleArgs{RoleARN: p.RoleARN, RoleSessionName: p.RoleSessionName, SerialNumber: p.MFASerial, ExternalID: p.ExternalID}
		if d := p.RoleDurationSeconds; d != nil {
			s := int(*d / time.Second)
			a.DurationSeconds = &s
		}
		out = append(out, a)
	}
	return out
}

// roleOptions returns the SDK hook for each AssumeRole provider of the
// chain: a token provider (the code itself is asked by the Assumer, under
// the cache lock, only when no cached entry will do), and the STS client
// wrapped so that AssumeRole goes through the Assumer and its cache, with
// the profile's configured arguments (roles, known once the SDK has read
// the profile: New fills it in before any call).
func roleOptions(assumer *awscreds.Assumer, roles *roleSet, ep *stsEndpoint) func(*stscreds.AssumeRoleOptions) {
	return func(o *stscreds.AssumeRoleOptions) {
		if o.SerialNumber != nil {
			o.TokenProvider = func() (string, error) { return "", nil }
		}
		if _, done := o.Client.(*cachedAssumeRole); !done && o.Client != nil {
			o.Client = &cachedAssumeRole{inner: o.Client, assumer: assumer, key: roleArgsOf(o), roles: roles, ep: ep}
		}
	}
}

// roleSet is the AssumeRole arguments of a profile's role chain, as
// configured (roleArgs).
type roleSet struct{ roles []awscreds.RoleArgs }

// roleArgsOf are the arguments of the role an AssumeRole provider
// assumes, as the SDK set them from the profile before the hook: the
// role, session name, MFA device, external id and a duration (which the
// SDK sets only above 15 minutes).
func roleArgsOf(o *stscreds.AssumeRoleOptions) awscreds.RoleArgs {
	a := awscreds.RoleArgs{RoleARN: o.RoleARN, RoleSessionName: o.RoleSessionName, SerialNumber: aws.ToString(o.SerialNumber), ExternalID: aws.ToString(o.ExternalID)}
	if o.Duration != 0 {
		s := int(o.Duration / time.Second)
		a.DurationSeconds = &s
	}
	return a
}

// matchRole finds the configured arguments of the role key names (the
// same role may appear twice in a chain with other settings), else key:
// duration_seconds as configured, even at 15 minutes or less, which the
// Go SDK ignores and botocore (whose cache key includes it) does not.
func matchRole(roles []awscreds.RoleArgs, key awscreds.RoleArgs) awscreds.RoleArgs {
	for _, r := range roles {
		if r.RoleARN == key.RoleARN && r.SerialNumber == key.SerialNumber && r.ExternalID == key.ExternalID && r.RoleSessionName == key.RoleSessionName {
			return r
		}
	}
	return key
}

// sharedConfigOf is the profile the SDK loaded, from an aws.Config's
// ConfigSources; nil when it loaded none (credentials from the
// environment alone, or no such profile where the SDK allows that).
func sharedConfigOf(sources []any) *config.SharedConfig {
	for _, s := range sources {
		if sc, ok := s.(config.SharedConfig); ok && sc.Profile != "" {
			return &sc
		}
	}
	return nil
}

// cachedAssumeRole is the STS client of an AssumeRole provider, going
// through the Assumer.
type cachedAssumeRole struct {
	inner   stscreds.AssumeRoleAPIClient
	assumer *awscreds.Assumer
	key     awscreds.RoleArgs // the role as the SDK's provider has it
	roles   *roleSet
	ep      *stsEndpoint
}

func (c *cachedAssumeRole) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	args := matchRole(c.roles.roles, c.key)
	// The duration as configured, else DefaultRoleDuration (the SDK's
	// provider asks for 15 minutes).
	d := int32(DefaultRoleDuration / time.Second)
	if args.DurationSeconds != nil {
		d = int32(*args.DurationSeconds)
	}
	in.DurationSeconds = aws.Int32(d)
	e, err := c.assumer.Assume(ctx, args, func(ctx context.Context, code string) (*awscreds.Entry, error) {
		if code != "" {
			in.TokenCode = aws.String(code)
		}
		out, err := c.inner.AssumeRole(ctx, in, append(optFns, c.ep.option())...)
		if err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				return nil, &awscreds.AssumeRoleError{Profile: c.assumer.Profile, RoleARN: args.RoleARN, Serial: args.SerialNumber, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
			}
			return nil, fmt.Errorf("sts:AssumeRole of %s: %w", args.RoleARN, err)
		}
		if out.Credentials == nil {
			return nil, fmt.Errorf("sts:AssumeRole of %s: no credentials in the answer", args.RoleARN)
		}
		e := &awscreds.Entry{
			AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken: aws.ToString(out.Credentials.SessionToken), Expiration: aws.ToTime(out.Credentials.Expiration),
		}
		if u := out.AssumedRoleUser; u != nil {
			e.AssumedRoleARN, e.AssumedRoleID = aws.ToString(u.Arn), aws.ToString(u.AssumedRoleId)
		}
		if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); ok {
			e.RequestID = id
		}
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return entryOutput(e), nil
}

func entryOutput(e *awscreds.Entry) *sts.AssumeRoleOutput {
	out := &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String(e.AccessKeyID), SecretAccessKey: aws.String(e.SecretAccessKey),
		SessionToken: aws.String(e.SessionToken), Expiration: aws.Time(e.Expiration),
	}}
	if e.AssumedRoleARN != "" {
		out.AssumedRoleUser = &ststypes.AssumedRoleUser{Arn: aws.String(e.AssumedRoleARN), AssumedRoleId: aws.String(e.AssumedRoleID)}
	}
	return out
}

// assumer is the Assumer for a profile: the AWS CLI's cache directory
// (no disk cache when the home directory is unknown), the terminal
// prompt, or opts.MFACode.
func assumer(profile string, opts Options) *awscreds.Assumer {
	a := &awscreds.Assumer{Profile: profile, Prompter: awscreds.TTYPrompter{Before: opts.BeforePrompt}}
	switch {
	case opts.MFACode != "":
		a.Prompter = awscreds.FixedCode(opts.MFACode)
	case opts.NoPrompt:
		a.Prompter = nil
	}
	if dir, err := awscreds.DefaultDir(); err == nil {
		a.Cache = &awscreds.Cache{Dir: dir}
	}
	a.Warn = func(msg string) { fmt.Fprintf(os.Stderr, "jitssh: warning: %s\n", msg) }
	return a
}

// needsMFA reports whether a role of the chain asks for an MFA code.
func needsMFA(roles []awscreds.RoleArgs) bool {
	for _, r := range roles {
		if r.SerialNumber != "" {
			return true
		}
	}
	return false
}
