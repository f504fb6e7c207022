package apis

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestStartSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	tests := []struct {
		name     string
		as       string
		doc      *string
		params   map[string][]string
		reason   *string
		wantDoc  string
		wantPrms map[string][]string
		prefix   string
	}{
		{"shell", "alice", nil, nil, nil, ShellDocument, map[string][]string{}, "alice-"},
		{"ssh default port", "alice", aws.String(SSHDocument), nil, aws.String("jitssh"), SSHDocument,
			map[string][]string{"portNumber": {"22"}}, "alice-"},
		{"ssh port as bob", "bob", aws.String(SSHDocument), map[string][]string{"portNumber": {"2222"}}, nil, SSHDocument,
			map[string][]string{"portNumber": {"2222"}}, "bob-"},
		{"port forwarding", "alice", aws.String(PortForwardingDocument), map[string][]string{"portNumber": {"5432"}}, nil, PortForwardingDocument,
			map[string][]string{"portNumber": {"5432"}, "localPortNumber": {"0"}}, "alice-"},
		{"remote host", "alice", aws.String(PortForwardingToHostDocument),
			map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}, "localPortNumber": {"15432"}}, nil, PortForwardingToHostDocument,
			map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}, "localPortNumber": {"15432"}}, "alice-"},
		{"document arn", "alice", aws.String("arn:aws:ssm:us-east-1::document/AWS-StartSSHSession"), nil, nil, SSHDocument,
			map[string][]string{"portNumber": {"22"}}, "alice-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := alice
			if tt.as == "bob" {
				id = bob
			}
			out, err := e.ssm(id).StartSession(context.Background(), &ssm.StartSessionInput{
				Target: aws.String(idWeb1), DocumentName: tt.doc, Parameters: tt.params, Reason: tt.reason})
			if err != nil {
				t.Fatal(err)
			}
			sid := aws.ToString(out.SessionId)
			if !strings.HasPrefix(sid, tt.prefix) || len(sid) != len(tt.prefix)+17 {
				t.Errorf("SessionId = %q, want %s<17 hex>", sid, tt.prefix)
			}
			if want := "ws://127.0.0.1:9/v1/data-channel/" + sid + "?role=publish_subscribe"; aws.ToString(out.StreamUrl) != want {
				t.Errorf("StreamUrl = %q, want %q", aws.ToString(out.StreamUrl), want)
			}
			s, ok := e.world.Session(sid)
			if !ok {
				t.Fatalf("session %s not in world", sid)
			}
			if s.Token != aws.ToString(out.TokenValue) || s.Target != idWeb1 || s.DocumentName != tt.wantDoc ||
				s.Caller != id.ARN || s.Reason != aws.ToString(tt.reason) {
				t.Errorf("world session %+v", s)
			}
			if !reflect.DeepEqual(s.Parameters, tt.wantPrms) {
				t.Errorf("parameters = %v, want %v", s.Parameters, tt.wantPrms)
			}
		})
	}
}

func TestStartSessionErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	ssh := aws.String(SSHDocument)
	tests := []struct {
		name string
		in   ssm.StartSessionInput
		code string
		msg  string
	}{
		{"unknown target", ssm.StartSessionInput{Target: aws.String(idAbsent)}, "TargetNotConnected", idAbsent + " is not connected."},
		{"stopped target", ssm.StartSessionInput{Target: aws.String(idDB)}, "TargetNotConnected", idDB + " is not connected."},
		{"agent offline", ssm.StartSessionInput{Target: aws.String(idWin)}, "TargetNotConnected", idWin + " is not connected."},
		{"garbage target", ssm.StartSessionInput{Target: aws.String("web-1")}, "TargetNotConnected", "web-1 is not connected."},
		{"empty target", ssm.StartSessionInput{Target: aws.String("")}, "ValidationException",
			"1 validation error detected: Value '' at 'target' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"unknown document", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String("AWS-RunShellScript")}, "InvalidDocument", "AWS-RunShellScript"},
		{"malformed document name", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String("a b")}, "ValidationException", "at 'documentName'"},
		{"unknown parameter", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: ssh, Parameters: map[string][]string{"port": {"22"}}},
			"InvalidParameters", `Parameter "port" is not defined`},
		{"port zero", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: ssh, Parameters: map[string][]string{"portNumber": {"0"}}},
			"InvalidParameters", "portNumber"},
		{"port too big", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: ssh, Parameters: map[string][]string{"portNumber": {"65536"}}},
			"InvalidParameters", "portNumber"},
		{"two ports", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: ssh, Parameters: map[string][]string{"portNumber": {"22", "23"}}},
			"InvalidParameters", "takes one value"},
		{"shell takes no parameters", ssm.StartSessionInput{Target: aws.String(idWeb1), Parameters: map[string][]string{"portNumber": {"22"}}},
			"InvalidParameters", "not defined in document " + ShellDocument},
		{"remote host missing", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String(PortForwardingToHostDocument)},
			"InvalidParameters", `requires a value for parameter "host"`},
		{"remote host injection", ssm.StartSessionInput{Target: aws.String(idWeb1), DocumentName: aws.String(PortForwardingToHostDocument),
			Parameters: map[string][]string{"host": {"db;rm -rf /"}}}, "InvalidParameters", "host"},
		{"reason with newline", ssm.StartSessionInput{Target: aws.String(idWeb1), Reason: aws.String("a\nb")}, "ValidationException", "at 'reason'"},
		{"reason too long", ssm.StartSessionInput{Target: aws.String(idWeb1), Reason: aws.String(strings.Repeat("r", 257))}, "ValidationException",
			"Member must have length less than or equal to 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.ssm(alice).StartSession(context.Background(), &tt.in)
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

func TestResumeAndTerminateSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	client := e.ssm(alice)
	ctx := context.Background()
	start, err := client.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(idWeb2), DocumentName: aws.String(SSHDocument)})
	if err != nil {
		t.Fatal(err)
	}
	sid := aws.ToString(start.SessionId)

	res, err := client.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: start.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	tok := aws.ToString(res.TokenValue)
	if aws.ToString(res.SessionId) != sid || tok == "" || tok == aws.ToString(start.TokenValue) ||
		aws.ToString(res.StreamUrl) != aws.ToString(start.StreamUrl) {
		t.Errorf("ResumeSession = %s %q %s", aws.ToString(res.SessionId), tok, aws.ToString(res.StreamUrl))
	}
	if !e.world.ValidSessionToken(sid, tok) || !e.world.ValidSessionToken(sid, aws.ToString(start.TokenValue)) {
		t.Error("resumed or original token not valid in world")
	}
	if e.world.ValidSessionToken(sid, "AAEAAforged") {
		t.Error("forged token valid")
	}

	s, _ := e.world.Session(sid)
	term, err := client.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: start.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(term.SessionId) != sid {
		t.Errorf("TerminateSession returned %q", aws.ToString(term.SessionId))
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session not terminated in world")
	}
	// Terminating again, or an unknown session, succeeds as on AWS.
	for _, id := range []string{sid, "alice-0123456789abcdef0"} {
		if _, err := client.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
			t.Errorf("TerminateSession(%s): %v", id, err)
		}
	}

	res, err = client.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: start.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if res.TokenValue != nil || res.StreamUrl != nil {
		t.Errorf("resume after terminate returned token %q url %q", aws.ToString(res.TokenValue), aws.ToString(res.StreamUrl))
	}

	_, err = client.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String("alice-0123456789abcdef0")})
	wantAPIError(t, err, "DoesNotExistException", "alice-0123456789abcdef0")
	_, err = client.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(strings.Repeat("s", 97))})
	wantAPIError(t, err, "ValidationException", "at 'sessionId'")
}

func infoIDs(out *ssm.DescribeInstanceInformationOutput) []string {
	var ids []string
	for _, i := range out.InstanceInformationList {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

func TestDescribeInstanceInformation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	client := e.ssm(bob)
	ctx := context.Background()

	out, err := client.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := infoIDs(out), []string{idWeb1, idWeb2, idDB, idWin}; !reflect.DeepEqual(got, want) {
		t.Fatalf("instances %v, want %v (terminated ones are not listed)", got, want)
	}
	type row struct {
		ping     ssmtypes.PingStatus
		platform ssmtypes.PlatformType
		ip, name string
	}
	want := map[string]row{
		idWeb1: {ssmtypes.PingStatusOnline, ssmtypes.PlatformTypeLinux, "10.0.1.10", "ip-10-0-1-10.ec2.internal"},
		idWeb2: {ssmtypes.PingStatusOnline, ssmtypes.PlatformTypeLinux, "10.0.1.11", "ip-10-0-1-11.ec2.internal"},
		idDB:   {ssmtypes.PingStatusConnectionLost, ssmtypes.PlatformTypeLinux, "10.0.2.20", "db-1"},
		idWin:  {ssmtypes.PingStatusConnectionLost, ssmtypes.PlatformTypeWindows, "10.0.3.30", "EC2AMAZ-WIN1"},
	}
	for _, i := range out.InstanceInformationList {
		got := row{i.PingStatus, i.PlatformType, aws.ToString(i.IPAddress), aws.ToString(i.ComputerName)}
		if got != want[aws.ToString(i.InstanceId)] {
			t.Errorf("%s: %+v, want %+v", aws.ToString(i.InstanceId), got, want[aws.ToString(i.InstanceId)])
		}
		if aws.ToString(i.AgentVersion) != AgentVersion || i.ResourceType != ssmtypes.ResourceTypeEc2Instance || i.LastPingDateTime == nil {
			t.Errorf("%s: agent %s resource %s ping %v", aws.ToString(i.InstanceId), aws.ToString(i.AgentVersion), i.ResourceType, i.LastPingDateTime)
		}
	}

	filtered := []struct {
		name string
		in   ssm.DescribeInstanceInformationInput
		want []string
	}{
		{"PingStatus", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("PingStatus"), Values: []string{"Online"}}}}, []string{idWeb1, idWeb2}},
		{"tag", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("tag:env"), Values: []string{"prod"}}}}, []string{idWeb1, idDB}},
		{"tag-key", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("tag-key"), Values: []string{"role"}}}}, []string{idWeb1, idWeb2}},
		{"two tags", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("tag-key"), Values: []string{"env"}}, {Key: aws.String("tag:env"), Values: []string{"prod"}}}}, []string{idWeb1, idDB}},
		{"platform and ping", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("PlatformTypes"), Values: []string{"Windows"}}, {Key: aws.String("PingStatus"), Values: []string{"ConnectionLost"}}}}, []string{idWin}},
		{"old filter list", ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
			{Key: ssmtypes.InstanceInformationFilterKeyInstanceIds, ValueSet: []string{idWeb2, idDB, idGone}}}}, []string{idWeb2, idDB}},
	}
	for _, tt := range filtered {
		out, err := client.DescribeInstanceInformation(ctx, &tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := infoIDs(out); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}

	errs := []struct {
		name, code, msg string
		in              ssm.DescribeInstanceInformationInput
	}{
		{"max results", "ValidationException", "Value '4' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 5",
			ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(4)}},
		{"bad token", "InvalidNextToken", "The specified token is not valid.",
			ssm.DescribeInstanceInformationInput{NextToken: aws.String("nope")}},
		// The model's InvalidFilterKey has no Message member, so the SDK
		// surfaces no message whatever the service sends.
		{"bad key", "InvalidFilterKey", "", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("Colour"), Values: []string{"red"}}}}},
		{"tag in old list", "InvalidFilterKey", "", ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
			{Key: "tag:env", ValueSet: []string{"prod"}}}}},
		// AWS: "Tag filters can't be combined with other filter types."
		{"tag and platform", "ValidationException", "Cannot mix tag or inventory filter with any other filter.", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("tag-key"), Values: []string{"Name"}}, {Key: aws.String("PlatformTypes"), Values: []string{"Windows"}}}}},
		{"tag and resource type", "ValidationException", "Cannot mix tag or inventory filter with any other filter.", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("tag:Name"), Values: []string{"web-1"}}, {Key: aws.String("ResourceType"), Values: []string{"ManagedInstance"}}}}},
		{"two resource types", "InvalidInstanceInformationFilterValue", "ResourceType filter may contain only one value.", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("ResourceType"), Values: []string{"ManagedInstance", "EC2Instance"}}}}},
		{"no values", "InvalidInstanceInformationFilterValue", "PingStatus", ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
			{Key: aws.String("PingStatus"), Values: []string{}}}}},
	}
	for _, tt := range errs {
		_, err := client.DescribeInstanceInformation(ctx, &tt.in)
		t.Run(tt.name, func(t *testing.T) { wantAPIError(t, err, tt.code, tt.msg) })
	}
}

func TestDescribeInstanceInformationPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manyInstances(23))
	client := e.ssm(alice)
	for _, tt := range []struct {
		max   *int32
		sizes []int
	}{
		{aws.Int32(5), []int{5, 5, 5, 5, 3}},
		{nil, []int{10, 10, 3}},
		{aws.Int32(50), []int{23}},
	} {
		p := ssm.NewDescribeInstanceInformationPaginator(client, &ssm.DescribeInstanceInformationInput{MaxResults: tt.max})
		var sizes []int
		seen := map[string]bool{}
		for p.HasMorePages() {
			out, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(out.InstanceInformationList))
			for _, id := range infoIDs(out) {
				if seen[id] {
					t.Fatalf("%s listed twice", id)
				}
				seen[id] = true
			}
		}
		if !reflect.DeepEqual(sizes, tt.sizes) || len(seen) != 23 {
			t.Errorf("MaxResults %v: pages %v (%d ids), want %v", tt.max, sizes, len(seen), tt.sizes)
		}
	}
}

func TestJSONRawEnvelopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	tests := []struct {
		name    string
		service string
		target  string
		body    string
		status  int
		want    string
	}{
		{"unknown ssm op", "ssm", "AmazonSSM.CreateDocument", `{}`, 400,
			`{"__type":"com.amazon.coral.service#UnknownOperationException","message":"Unknown operation AmazonSSM.CreateDocument"}`},
		{"wrong prefix", "ssm", "AWSEC2InstanceConnectService.SendSSHPublicKey", `{}`, 400, `UnknownOperationException`},
		{"no target", "ssm", "", `{}`, 400, `UnknownOperationException`},
		{"not json", "ssm", "AmazonSSM.StartSession", `Target=i-1`, 400, `"__type":"com.amazon.coral.service#SerializationException"`},
		{"wrong type", "ssm", "AmazonSSM.StartSession", `{"Target":5}`, 400, `SerializationException`},
		{"case-sensitive members", "ssm", "AmazonSSM.StartSession", `{"target":"` + idWeb1 + `"}`, 400,
			`{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null"}`},
		{"unknown eic op", "ec2-instance-connect", "AWSEC2InstanceConnectService.SendSerialConsoleSSHPublicKey", `{}`, 400, `UnknownOperationException`},
		{"unemulated service", "lambda", "AWSLambda.Invoke", `{}`, 400, `The sandbox does not emulate the service \"lambda\".`},
		{"success", "ssm", "AmazonSSM.TerminateSession", `{"SessionId":"x"}`, 200, `{"SessionId":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := map[string]string{"Content-Type": "application/x-amz-json-1.1"}
			if tt.target != "" {
				hdr["X-Amz-Target"] = tt.target
			}
			resp := e.raw(&alice, tt.service, hdr, tt.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, body, tt.status, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type %q", ct)
			}
			if len(resp.Header.Get("X-Amzn-Requestid")) != 36 {
				t.Errorf("x-amzn-RequestId %q", resp.Header.Get("X-Amzn-Requestid"))
			}
		})
	}
}
