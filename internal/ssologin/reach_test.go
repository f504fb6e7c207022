package ssologin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssso "github.com/aws/aws-sdk-go-v2/service/sso"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/smithy-go"

	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/sso"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/targets"
)

func TestChoose(t *testing.T) {
	for _, c := range []struct {
		offered, preferred []string
		want               string
	}{
		{[]string{"ReadOnly", "Admin"}, []string{"Admin", "ReadOnly"}, "Admin"},
		{[]string{"ReadOnly"}, []string{"Admin", "ReadOnly"}, "ReadOnly"},
		{[]string{"Other"}, []string{"Admin", "ReadOnly"}, ""},
		{nil, []string{"Admin"}, ""},
		{[]string{"admin"}, []string{"Admin"}, ""}, // names are case-sensitive, as AWS's
	} {
		if got := Choose(c.offered, c.preferred); got != c.want {
			t.Errorf("Choose(%v, %v) = %q, want %q", c.offered, c.preferred, got, c.want)
		}
	}
}

func TestParseRef(t *testing.T) {
	good := Ref{Session: "corp-sso", Account: "123456789012", Role: "Admin+Ops=1,a.b@c_d-e"}
	if got, ok := ParseRef(good.String()); !ok || got != good {
		t.Fatalf("ParseRef(%q) = %+v, %v", good.String(), got, ok)
	}
	for _, bad := range []string{
		"", "corp/123456789012/Admin", "sso:", "sso:corp/123456789012", "sso:corp/12345678901/Admin",
		"sso:corp/1234567890123/Admin", "sso:corp/12345678901a/Admin", "sso:corp/123456789012/", "sso:/123456789012/Admin",
		"sso:corp/123456789012/Admin/x", "sso:co rp/123456789012/Admin", "sso:corp/123456789012/Ad min", "sso:corp/123456789012/Ad\tmin",
		"sso:corp/123456789012/" + strings.Repeat("a", 65),
	} {
		if r, ok := ParseRef(bad); ok {
			t.Errorf("ParseRef(%q) = %+v, want refused", bad, r)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"sso:corp/123456789012/Admin", "sso:a/000000000000/b", "sso:corp/123456789012/Admin/x", "prod"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseRef(s)
		if !ok {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q) = %+v, which prints as %q", s, r, r.String())
		}
		if strings.ContainsAny(s, " \t\n\r\x00") || !targets.ValidAccount(r.Account) || !ValidRole(r.Role) {
			t.Fatalf("ParseRef(%q) accepted %+v", s, r)
		}
	})
}

// scrubAWSEnv keeps the environment's AWS settings and files out of the
// SDK configuration of the test.
func scrubAWSEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// reachEnv is the sandbox's Identity Center on a loopback server, one
// signed-in user, and NewAccountPortal's client pointed at it.
type reachEnv struct {
	svc    *sso.Service
	knobs  *knobs.Table
	portal *awssso.Client
	token  string
}

func newReachEnv(t *testing.T, assignments []sso.Assignment) *reachEnv {
	t.Helper()
	scrubAWSEnv(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &reachEnv{knobs: &knobs.Table{}}
	e.svc = sso.New(sso.Options{
		Region: "us-east-1", Account: "111111111111", BaseURL: srv.URL, Knobs: e.knobs,
		Users:          []sso.User{{UserName: "dave", Assignments: assignments}},
		PermissionSets: []sso.PermissionSet{{Name: "Admin"}, {Name: "ReadOnly"}, {Name: "Other"}},
		IssueSession: func(id world.Identity, ttl time.Duration) (sso.Credentials, error) {
			return sso.Credentials{AccessKeyID: "ASIA" + strings.ToUpper(id.UserID[:4]), SecretAccessKey: "secret", SessionToken: id.ARN, Expiration: time.Now().Add(ttl)}, nil
		},
	})
	e.svc.Register(mux)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	ctx := context.Background()
	p, err := NewAccountPortal(ctx, "", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	e.portal = p
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)}
	oidc := ssooidc.NewFromConfig(cfg)
	reg, err := oidc.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("t"), ClientType: aws.String("public"), Scopes: []string{"sso:account:access"}})
	if err != nil {
		t.Fatal(err)
	}
	start, err := oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(e.svc.StartURL())})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Approve(*start.UserCode, "dave"); err != nil {
		t.Fatal(err)
	}
	tok, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(sso.GrantDeviceCode), DeviceCode: start.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	e.token = *tok.AccessToken
	return e
}

// TestReach: every account ListAccounts names (more than a page), each
// account's roles, the role chosen by the preference list, an account
// offering none of them reported with what it offers; throttled portal
// calls are retried.
func TestReach(t *testing.T) {
	var as []sso.Assignment
	want := map[string]string{}
	for i := 0; i < ReachWorkers*3; i++ { // more than one page of ListAccounts (20)
		acct := "2000000000" + string(rune('1'+i/10)) + string(rune('0'+i%10))
		switch i % 3 {
		case 0:
			as = append(as, sso.Assignment{Account: acct, PermissionSet: "ReadOnly"}, sso.Assignment{Account: acct, PermissionSet: "Admin"})
			want[acct] = "Admin"
		case 1:
			as = append(as, sso.Assignment{Account: acct, PermissionSet: "ReadOnly"})
			want[acct] = "ReadOnly"
		case 2:
			as = append(as, sso.Assignment{Account: acct, PermissionSet: "Other"})
			want[acct] = ""
		}
	}
	e := newReachEnv(t, as)
	if err := e.knobs.SetThrottle(map[string]string{"sso:ListAccountRoles": "next:2", "sso:ListAccounts": "next:1"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	accounts, err := Reach(ctx, e.portal, e.token, []string{"Admin", "ReadOnly"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != len(want) {
		t.Fatalf("Reach: %d accounts, want %d", len(accounts), len(want))
	}
	for i, a := range accounts {
		if i > 0 && accounts[i-1].ID >= a.ID {
			t.Errorf("accounts not sorted: %s before %s", accounts[i-1].ID, a.ID)
		}
		if a.Role != want[a.ID] {
			t.Errorf("account %s: role %q, want %q (offered %v, err %v)", a.ID, a.Role, want[a.ID], a.Roles, a.Err)
		}
		var np *NoPreferredRoleError
		switch {
		case want[a.ID] == "" && (!errors.As(a.Err, &np) || !reflect.DeepEqual(np.Offered, []string{"Other"}) || !strings.Contains(a.Err.Error(), "offers none of the preferred roles Admin, ReadOnly (it offers Other)")):
			t.Errorf("account %s: err %v, want NoPreferredRoleError offering Other", a.ID, a.Err)
		case want[a.ID] != "" && a.Err != nil:
			t.Errorf("account %s: %v", a.ID, a.Err)
		}
	}
	// the credentials of a chosen role, and of one not assigned
	rc := aws.NewCredentialsCache(&RoleCredentials{Portal: e.portal, Token: func(context.Context) (string, error) { return e.token, nil }, Account: accounts[0].ID, Role: "Admin"})
	c, err := rc.Retrieve(ctx)
	if err != nil || !strings.Contains(c.SessionToken, ":assumed-role/AWSReservedSSO_Admin_") || !strings.Contains(c.SessionToken, accounts[0].ID) || !c.CanExpire || c.Source != RoleSource {
		t.Fatalf("RoleCredentials = %+v, %v", c, err)
	}
	_, err = (&RoleCredentials{Portal: e.portal, Token: func(context.Context) (string, error) { return e.token, nil }, Account: accounts[1].ID, Role: "Admin"}).Retrieve(ctx)
	var ae smithy.APIError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "role Admin in account "+accounts[1].ID) {
		t.Fatalf("credentials of a role not assigned: %v", err)
	}
}

// TestReachRefusedToken: a token the portal does not know is
// ListAccounts' error, the portal's UnauthorizedException.
func TestReachRefusedToken(t *testing.T) {
	e := newReachEnv(t, []sso.Assignment{{Account: "200000000001", PermissionSet: "Admin"}})
	_, err := Reach(context.Background(), e.portal, "not-a-token", []string{"Admin"}, 0)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnauthorizedException" || !strings.Contains(err.Error(), "sso:ListAccounts") {
		t.Fatalf("Reach with a bad token: %v", err)
	}
}
