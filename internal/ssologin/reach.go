// Reaching accounts through an SSO session, for scopes (docs/scopes.md).

package ssologin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sso"
)

// AccountPortal is the part of the SSO portal API a scope uses (*sso.Client).
type AccountPortal interface {
	ListAccounts(context.Context, *sso.ListAccountsInput, ...func(*sso.Options)) (*sso.ListAccountsOutput, error)
	ListAccountRoles(context.Context, *sso.ListAccountRolesInput, ...func(*sso.Options)) (*sso.ListAccountRolesOutput, error)
	GetRoleCredentials(context.Context, *sso.GetRoleCredentialsInput, ...func(*sso.Options)) (*sso.GetRoleCredentialsOutput, error)
}

// PortalMaxAttempts is how often a portal call is tried in all (throttling and
// transient errors retried with jittered back-off, no client-side retry
// budget, as awsapi's clients).
const PortalMaxAttempts = 6

// NewAccountPortal is the SDK's portal client in the session's region (ssoRegion)
// with the endpoints of profile's configuration (AWS_ENDPOINT_URL_SSO,
// the profile's services section …), unsigned as the portal API is.
func NewAccountPortal(ctx context.Context, profile, ssoRegion string) (*sso.Client, error) {
	lo := []func(*config.LoadOptions) error{
		config.WithRegion(ssoRegion),
		config.WithCredentialsProvider(aws.AnonymousCredentials{}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = PortalMaxAttempts
				o.MaxBackoff = 5 * time.Second
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration for the SSO portal: %w", err)
	}
	return sso.NewFromConfig(cfg), nil
}

// Account is one account the session reaches.
type Account struct {
	ID   string
	Name string
	// Roles are the role names the account offers the user, sorted.
	Roles []string
	// Role is the one chosen by the preference list; "" if none of
	// them is offered (Err is then a *NoPreferredRoleError).
	Role string
	// Err is why the account is not searched: its roles could not be
	// listed, or none of them is preferred.
	Err error
}

// NoPreferredRoleError is an account that offers none of the preferred
// roles: it is left out of the scope.
type NoPreferredRoleError struct {
	Account   string
	Offered   []string
	Preferred []string
}

func (e *NoPreferredRoleError) Error() string {
	offered := "no role"
	if len(e.Offered) > 0 {
		offered = strings.Join(e.Offered, ", ")
	}
	return fmt.Sprintf("account %s offers none of the preferred roles %s (it offers %s)", e.Account, strings.Join(e.Preferred, ", "), offered)
}

// Choose is the first role of preferred that offered has ("" if none).
func Choose(offered, preferred []string) string {
	for _, p := range preferred {
		for _, o := range offered {
			if o == p {
				return p
			}
		}
	}
	return ""
}

// ReachWorkers bounds the ListAccountRoles calls made at once.
const ReachWorkers = 8

// Reach lists the accounts the token reaches and each account's roles
// (workers at once; 0: ReachWorkers), choosing each account's role by
// preferred. An account whose roles cannot be listed, or that offers no
// preferred role, is returned with Err set; only ListAccounts failing is
// an error. Accounts are sorted by id.
func Reach(ctx context.Context, p AccountPortal, token string, preferred []string, workers int) ([]Account, error) {
	if workers <= 0 {
		workers = ReachWorkers
	}
	var accounts []Account
	pages := sso.NewListAccountsPaginator(p, &sso.ListAccountsInput{AccessToken: aws.String(token)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the accounts of the SSO session (sso:ListAccounts): %w", err)
		}
		for _, a := range out.AccountList {
			accounts = append(accounts, Account{ID: aws.ToString(a.AccountId), Name: aws.ToString(a.AccountName)})
		}
	}
	sort.Slice(accounts, func(i, j int) bool { return accounts[i].ID < accounts[j].ID })
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range accounts {
		a := &accounts[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				a.Err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			a.Roles, a.Err = roles(ctx, p, token, a.ID)
			if a.Err != nil {
				return
			}
			if a.Role = Choose(a.Roles, preferred); a.Role == "" {
				a.Err = &NoPreferredRoleError{Account: a.ID, Offered: a.Roles, Preferred: preferred}
			}
		}()
	}
	wg.Wait()
	return accounts, nil
}

// roles lists the role names account offers, sorted.
func roles(ctx context.Context, p AccountPortal, token, account string) ([]string, error) {
	var out []string
	pages := sso.NewListAccountRolesPaginator(p, &sso.ListAccountRolesInput{AccessToken: aws.String(token), AccountId: aws.String(account)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the roles of account %s (sso:ListAccountRoles): %w", account, err)
		}
		for _, r := range page.RoleList {
			out = append(out, aws.ToString(r.RoleName))
		}
	}
	sort.Strings(out)
	return out, nil
}

// RoleCredentials is the credentials of one role of one account, got
// with GetRoleCredentials and the session's token (asked of Token at each
// retrieval, so a refreshed token is used). Wrap it in
// aws.NewCredentialsCache: they are kept in memory only, never written.
type RoleCredentials struct {
	Portal  AccountPortal
	Token   func(context.Context) (string, error)
	Account string
	Role    string
}

// RoleSource is the aws.Credentials Source of RoleCredentials.
const RoleSource = "SSORoleCredentials"

// RoleProvider is r behind the SDK's credentials cache: one
// GetRoleCredentials until they near their expiry, shared by every client
// made with it.
func RoleProvider(r *RoleCredentials) aws.CredentialsProvider { return aws.NewCredentialsCache(r) }

// Retrieve implements aws.CredentialsProvider.
func (r *RoleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	tok, err := r.Token(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	out, err := r.Portal.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
		AccessToken: aws.String(tok), AccountId: aws.String(r.Account), RoleName: aws.String(r.Role)})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("get the credentials of role %s in account %s (sso:GetRoleCredentials): %w", r.Role, r.Account, err)
	}
	c := out.RoleCredentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" {
		return aws.Credentials{}, errors.New("sso:GetRoleCredentials answered without credentials")
	}
	return aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Source: RoleSource,
		CanExpire: c.Expiration != 0, Expires: time.UnixMilli(c.Expiration), AccountID: r.Account,
	}, nil
}
