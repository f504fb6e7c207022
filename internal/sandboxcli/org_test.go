package sandboxcli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestUpOrgProfiles: `up --org` writes a profile per member account that
// the aws CLI uses as is: dev assumes dev's OrganizationAccountAccessRole
// and sees dev's instance in us-west-2; audit's SCP denies the listing.
func TestUpOrgProfiles(t *testing.T) {
	t.Parallel()
	vars := up(t, "--org")
	out, stderr, code := awsProfile(t, vars, "dev", "sts", "get-caller-identity", "--query", "Arn")
	if code != 0 || !strings.Contains(out, "arn:aws:sts::210987654321:assumed-role/OrganizationAccountAccessRole/") {
		t.Fatalf("dev's caller: exit %d %s %s", code, out, stderr)
	}
	out, stderr, code = awsProfile(t, vars, "dev", "ec2", "describe-instances", "--region", "us-west-2", "--query", "Reservations[].Instances[].InstanceId")
	var ids []string
	if code != 0 || json.Unmarshal([]byte(out), &ids) != nil || len(ids) != 1 || ids[0] != "i-0d1b2c3d4e5f00002" {
		t.Fatalf("dev in us-west-2: exit %d %s %s", code, out, stderr)
	}
	_, stderr, code = awsProfile(t, vars, "audit", "ec2", "describe-instances")
	if code == 0 || !strings.Contains(stderr, "UnauthorizedOperation") {
		t.Errorf("audit's listing: exit %d %s, want UnauthorizedOperation (its SCP)", code, stderr)
	}
	out, stderr, code = awsProfile(t, vars, "default", "ec2", "describe-regions", "--all-regions", "--query", "Regions[].[RegionName,OptInStatus]", "--output", "text")
	if code != 0 || !strings.Contains(out, "ap-east-1\tnot-opted-in") || !strings.Contains(out, "us-west-2\topt-in-not-required") {
		t.Errorf("describe-regions: exit %d %q %s", code, out, stderr)
	}
}

// TestUpGenerateOrg: --generate ACCOUNTSxREGIONSxN makes the organization,
// and a malformed one is refused before anything starts.
func TestUpGenerateOrg(t *testing.T) {
	t.Parallel()
	vars := up(t, "--generate", "3x2x5")
	out, stderr, code := awsProfile(t, vars, "gen-002", "ec2", "describe-instances", "--region", "us-west-2", "--query", "Reservations[].Instances[].Tags[?Key=='Name'].Value[]")
	var names []string
	if code != 0 || json.Unmarshal([]byte(out), &names) != nil || len(names) != 5 || names[0] != "node-gen-002-us-west-2-00001" {
		t.Fatalf("gen-002 in us-west-2: exit %d %s %s", code, out, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--generate", "3x2"}, "--generate \"3x2\": want N, or ACCOUNTSxREGIONSxN"},
		{[]string{"--generate", "600x1x1"}, "at most"},
		{[]string{"--org", "--config", "x.toml"}, "--org and --config"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"up", "--state-dir", t.TempDir(), "--sshd", "embedded"}, tc.args...), &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("up %v: exit %d, stderr %q; want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
