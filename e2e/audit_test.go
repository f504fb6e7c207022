package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"

	"github.com/jitssh/jitssh/internal/audit"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// auditSDK returns an SDK config signing as the named sandbox identity.
func (e *env) auditSDK(t testing.TB, name string) aws.Config {
	t.Helper()
	for _, id := range e.sb.World.Identities() {
		if id.Name == name {
			opts := []func(*config.LoadOptions) error{config.WithRegion(e.sb.World.Region),
				config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, id.SessionToken)),
				config.WithBaseEndpoint(e.sb.URL)}
			if e.sb.CABundle != "" { // the sandbox serves HTTPS with its own CA
				ca, err := os.ReadFile(e.sb.CABundle)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, config.WithCustomCABundle(bytes.NewReader(ca)))
			}
			cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
	}
	t.Fatalf("no identity %s", name)
	return aws.Config{}
}

// auditShipFile puts an instance's audit file into the log group, one
// stream per instance, as jitssh-host's shipper does (a stand-in until the
// shipper runs in the sandbox), plus extra messages.
func auditShipFile(t *testing.T, logs *cloudwatchlogs.Client, group, instance, path string, extra ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
	var exists *cwtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		t.Fatal(err)
	}
	_, err = logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(instance)})
	if err != nil && !errors.As(err, &exists) {
		t.Fatal(err) // exists: jitssh-host ships there too; events repeat and audit drops the repeats by id
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in []cwtypes.InputLogEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var h audit.HostEvent
		if json.Unmarshal(sc.Bytes(), &h) != nil {
			continue
		}
		in = append(in, cwtypes.InputLogEvent{Message: aws.String(sc.Text()), Timestamp: aws.Int64(h.Time.UnixMilli())})
	}
	for _, m := range extra {
		h, err := audit.ParseHostEvent(m, instance, "")
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, cwtypes.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(h.Time.UnixMilli())})
	}
	slicesSortByTime(in)
	if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(instance), LogEvents: in}); err != nil {
		t.Fatal(err)
	}
}

func slicesSortByTime(in []cwtypes.InputLogEvent) {
	for i := 1; i < len(in); i++ {
		for j := i; j > 0 && *in[j].Timestamp < *in[j-1].Timestamp; j-- {
			in[j], in[j-1] = in[j-1], in[j]
		}
	}
}

// TestAuditTimeline: alice logs in to web-2 with jitssh ssh (real sshd,
// just-in-time user); a push she is not allowed (another OS user, refused
// by the SCP) is made; web-2's events reach CloudWatch Logs with one
// served key CloudTrail has no record of. jitssh audit --user alice, as
// the admin, shows the push joined to the served key by request id
// (caller, fingerprint, OS user, instance), the denied push as DENIED,
// and the unexplained key as a gap.
func TestAuditTimeline(t *testing.T) {
	stateDir := jitAliceState(t, "jitssh-e2e-audit-")
	e := newEnv(t, sshd.OpenSSH, func(c *sandbox.Config) { c.JIT, c.StateDir = sandbox.JITOn, stateDir })
	var web2 sandbox.InstanceInfo
	for _, in := range e.sb.Instances {
		if in.Name == "web-2" {
			web2 = in
		}
	}
	var aliceVars []string
	aliceVars = append(aliceVars, e.as(t, "alice")...)
	for _, kv := range e.vars {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") && !strings.HasPrefix(kv, "AWS_SESSION_TOKEN=") {
			aliceVars = append(aliceVars, kv)
		}
	}
	e.vars = aliceVars
	if out, err := e.run("jitssh", "ssh", "web-2", "--", "echo logged-in"); err != nil || !strings.Contains(string(out), "logged-in") {
		t.Fatalf("alice's login to web-2: %v\n%s", err, out)
	}
	// A push for another OS user: the impersonation SCP refuses it.
	eic := ec2instanceconnect.NewFromConfig(e.auditSDK(t, "alice"))
	_, err := eic.SendSSHPublicKey(context.Background(), &ec2instanceconnect.SendSSHPublicKeyInput{InstanceId: aws.String(web2.ID),
		InstanceOSUser: aws.String("root"), SSHPublicKey: aws.String(testkeys.New(t).Line("x"))})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("alice pushing a key for root: %v, want AccessDenied", err)
	}
	ghost := `{"id":"ghost-1","time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","event":"key-served","instance":"` + web2.ID +
		`","os_user":"alice","fingerprint":"SHA256:ghostghostghostghostghostghostghostghost123","caller":"arn:aws:sts::123456789012:assumed-role/JitsshDeveloper/alice","request_id":"00000000-0000-4000-8000-000000000000"}`
	auditShipFile(t, cloudwatchlogs.NewFromConfig(e.auditSDK(t, "admin")), "/jitssh/instances", web2.ID, web2.AuditLog, ghost)

	e.vars = append(e.as(t, "admin"), aliceVars[2:]...)
	out, err := e.run("jitssh", "audit", "--user", "alice", "--since", "1h", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Entries []audit.Entry
		Errors  []string
		Stats   audit.Stats
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("jitssh audit --output json: %v\n%s", err, out)
	}
	var joined, denied, gap *audit.Entry
	for i, en := range res.Entries {
		switch {
		case en.Kind == audit.KindAccess && en.Denied:
			denied = &res.Entries[i]
		case en.Kind == audit.KindAccess && len(en.Gaps) == 1 && en.Gaps[0] == audit.GapNoTrail:
			gap = &res.Entries[i]
		case en.Kind == audit.KindAccess && en.KeyServed != nil && len(en.Gaps) == 0:
			joined = &res.Entries[i]
		}
	}
	if len(res.Errors) > 0 || joined == nil || denied == nil || gap == nil {
		t.Fatalf("want a joined access, a denied push and a gap; got errors %v:\n%s", res.Errors, out)
	}
	if !strings.HasSuffix(joined.Principal, "/alice") || joined.OSUser != "alice" || joined.Instance != web2.ID ||
		!strings.HasPrefix(joined.Fingerprint, "SHA256:") || joined.RequestID == "" {
		t.Errorf("joined access lacks caller, key, OS user or instance: %+v", *joined)
	}
	if denied.OSUser != "root" || !strings.HasPrefix(denied.ErrorCode, "AccessDenied") {
		t.Errorf("denied push: %+v", *denied)
	}
	if gap.RequestID != "00000000-0000-4000-8000-000000000000" {
		t.Errorf("gap: %+v", *gap)
	}
	t.Logf("jitssh audit --output json:\n%s", out)
	// The table says the same in words.
	table, err := e.run("jitssh", "audit", "--user", "alice", "--since", "1h")
	if err != nil || !strings.Contains(string(table), "DENIED") || !strings.Contains(string(table), "GAP:no-cloudtrail-record") ||
		!strings.Contains(string(table), "request="+joined.RequestID) || !strings.Contains(string(table), "push+key-served") {
		t.Fatalf("jitssh audit table: %v\n%s", err, table)
	}
	t.Logf("jitssh audit --user alice:\n%s", table)
}
