package apis

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func instanceIDs(out *ec2.DescribeInstancesOutput) []string {
	var ids []string
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			ids = append(ids, aws.ToString(in.InstanceId))
		}
	}
	return ids
}

func TestDescribeInstancesFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	client := e.ec2(alice)
	tests := []struct {
		name    string
		ids     []string
		filters []ec2types.Filter
		want    []string
	}{
		{"all", nil, nil, []string{idWeb1, idWeb2, idDB, idWin, idGone}},
		{"by id", []string{idWeb2, idWeb1, idWeb2}, nil, []string{idWeb1, idWeb2}},
		{"ids and filter", []string{idWeb1, idDB}, []ec2types.Filter{filter("instance-state-name", "running")}, []string{idWeb1}},
		{"instance-id", nil, []ec2types.Filter{filter("instance-id", idDB, idWin)}, []string{idDB, idWin}},
		{"state running", nil, []ec2types.Filter{filter("instance-state-name", "running")}, []string{idWeb1, idWeb2, idWin}},
		{"state code", nil, []ec2types.Filter{filter("instance-state-code", "80", "48")}, []string{idDB, idGone}},
		{"tag wildcard", nil, []ec2types.Filter{filter("tag:Name", "web-*")}, []string{idWeb1, idWeb2}},
		{"tag question mark", nil, []ec2types.Filter{filter("tag:Name", "???-1")}, []string{idWeb1, idWin}},
		{"tag escaped star is literal", nil, []ec2types.Filter{filter("tag:Name", `web-\*`)}, nil},
		{"two filters are ANDed", nil, []ec2types.Filter{filter("tag:env", "prod"), filter("instance-state-name", "running")}, []string{idWeb1}},
		{"values are ORed", nil, []ec2types.Filter{filter("tag:env", "staging", "prod")}, []string{idWeb1, idWeb2, idDB}},
		{"tag-key", nil, []ec2types.Filter{filter("tag-key", "env")}, []string{idWeb1, idWeb2, idDB}},
		{"tag-value", nil, []ec2types.Filter{filter("tag-value", "stag*")}, []string{idWeb2}},
		{"tag values are case-sensitive", nil, []ec2types.Filter{filter("tag:Name", "WEB-1")}, nil},
		{"private-ip-address", nil, []ec2types.Filter{filter("private-ip-address", "10.0.1.1?")}, []string{idWeb1, idWeb2}},
		{"ip-address (stopped instances have none)", nil, []ec2types.Filter{filter("ip-address", "54.*")}, []string{idWeb1}},
		{"private-dns-name", nil, []ec2types.Filter{filter("private-dns-name", "ip-10-0-3-30.ec2.internal")}, []string{idWin}},
		{"dns-name", nil, []ec2types.Filter{filter("dns-name", "*.compute-1.amazonaws.com")}, []string{idWeb1}},
		{"availability-zone", nil, []ec2types.Filter{filter("availability-zone", "us-east-1a")}, []string{idWeb1, idDB, idGone}},
		{"vpc-id", nil, []ec2types.Filter{filter("vpc-id", "vpc-02")}, []string{idDB, idWin}},
		{"subnet-id", nil, []ec2types.Filter{filter("subnet-id", "subnet-0b1")}, []string{idWeb2}},
		{"platform", nil, []ec2types.Filter{filter("platform", "windows")}, []string{idWin}},
		{"star does not match a missing attribute", nil, []ec2types.Filter{filter("ip-address", "*")}, []string{idWeb1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: tt.ids, Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			if got := instanceIDs(out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if out.NextToken != nil {
				t.Errorf("NextToken = %q without MaxResults", *out.NextToken)
			}
		})
	}
}

func TestDescribeInstancesFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	out, err := e.ec2(bob).DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ec2types.Instance{}
	for _, r := range out.Reservations {
		if aws.ToString(r.OwnerId) != testAccount || !strings.HasPrefix(aws.ToString(r.ReservationId), "r-") {
			t.Errorf("reservation %s owner %s", aws.ToString(r.ReservationId), aws.ToString(r.OwnerId))
		}
		for _, in := range r.Instances {
			byID[aws.ToString(in.InstanceId)] = in
		}
	}
	web := byID[idWeb1]
	checks := []struct {
		what      string
		got, want any
	}{
		{"state code", aws.ToInt32(web.State.Code), int32(16)},
		{"state name", web.State.Name, ec2types.InstanceStateNameRunning},
		{"private ip", aws.ToString(web.PrivateIpAddress), "10.0.1.10"},
		{"public ip", aws.ToString(web.PublicIpAddress), "54.1.2.3"},
		{"private dns", aws.ToString(web.PrivateDnsName), "ip-10-0-1-10.ec2.internal"},
		{"public dns", aws.ToString(web.PublicDnsName), "ec2-54-1-2-3.compute-1.amazonaws.com"},
		{"type", web.InstanceType, ec2types.InstanceTypeT3Micro},
		{"image", aws.ToString(web.ImageId), "ami-0123456789abcdef0"},
		{"az", aws.ToString(web.Placement.AvailabilityZone), "us-east-1a"},
		{"subnet", aws.ToString(web.SubnetId), "subnet-0a1"},
		{"vpc", aws.ToString(web.VpcId), "vpc-01"},
		{"launch", aws.ToTime(web.LaunchTime), launch},
		{"platform", web.Platform, ec2types.PlatformValues("")},
		{"tags", web.Tags, []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("web-1")},
			{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("role"), Value: aws.String("web")}}},
		{"private-only has no public ip", byID[idWeb2].PublicIpAddress, (*string)(nil)},
		{"stopped code", aws.ToInt32(byID[idDB].State.Code), int32(80)},
		{"stopped has released its public ip", byID[idDB].PublicIpAddress, (*string)(nil)},
		{"terminated code", aws.ToInt32(byID[idGone].State.Code), int32(48)},
		// EC2 sends "windows" although the SDK's enum constant is "Windows".
		{"windows platform", byID[idWin].Platform, ec2types.PlatformValues("windows")},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestDescribeInstancesPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, manyInstances(23))
	client := e.ec2(alice)
	p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	var sizes []int
	var all []string
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids := instanceIDs(out)
		sizes = append(sizes, len(ids))
		all = append(all, ids...)
	}
	if want := []int{5, 5, 5, 5, 3}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("page sizes %v, want %v", sizes, want)
	}
	for i, id := range all {
		if want := manyInstances(23)[i].ID; id != want {
			t.Fatalf("item %d = %s, want %s", i, id, want)
		}
	}

	// Filters apply before paging; an exactly full last page has no token.
	out, err := client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		MaxResults: aws.Int32(5), Filters: []ec2types.Filter{filter("tag:Name", "node-1?")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := instanceIDs(out); len(got) != 5 || out.NextToken == nil {
		t.Fatalf("first filtered page %v token %v", got, out.NextToken)
	}
	out, err = client.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{
		MaxResults: aws.Int32(5), NextToken: out.NextToken, Filters: []ec2types.Filter{filter("tag:Name", "node-1?")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := instanceIDs(out); len(got) != 5 || out.NextToken != nil { // node-10…node-19
		t.Errorf("second filtered page %v token %v", got, aws.ToString(out.NextToken))
	}
}

func TestDescribeInstancesErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	client := e.ec2(alice)
	tests := []struct {
		name string
		in   ec2.DescribeInstancesInput
		code string
		msg  string
	}{
		{"unknown id", ec2.DescribeInstancesInput{InstanceIds: []string{idWeb1, idAbsent}},
			"InvalidInstanceID.NotFound", "The instance ID '" + idAbsent + "' does not exist"},
		{"unknown ids", ec2.DescribeInstancesInput{InstanceIds: []string{idAbsent, "i-0ccccccccccccccc9"}},
			"InvalidInstanceID.NotFound", "The instance IDs '" + idAbsent + ", i-0ccccccccccccccc9' do not exist"},
		{"malformed id", ec2.DescribeInstancesInput{InstanceIds: []string{"i-xyz"}},
			"InvalidInstanceID.Malformed", `Invalid id: "i-xyz"`},
		{"malformed wins over unknown", ec2.DescribeInstancesInput{InstanceIds: []string{idAbsent, "web-1"}},
			"InvalidInstanceID.Malformed", `Invalid id: "web-1"`},
		{"max results with ids", ec2.DescribeInstancesInput{InstanceIds: []string{idWeb1}, MaxResults: aws.Int32(5)},
			"InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"},
		{"max results too small", ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)},
			"InvalidParameterValue", "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{"max results too large", ec2.DescribeInstancesInput{MaxResults: aws.Int32(1001)},
			"InvalidParameterValue", "Expecting a value less than 1000."},
		{"bad token", ec2.DescribeInstancesInput{NextToken: aws.String("garbage!")},
			"InvalidParameterValue", "Invalid value 'garbage!' for nextToken"},
		{"unknown filter", ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("colour", "red")}},
			"InvalidParameterValue", "The filter 'colour' is invalid"},
		{"dry run", ec2.DescribeInstancesInput{DryRun: aws.Bool(true)},
			"DryRunOperation", "Request would have succeeded, but DryRun flag is set."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.DescribeInstances(context.Background(), &tt.in)
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

func TestEC2RawEnvelopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"unknown action", "Action=RunInstances&Version=2016-11-15", 400,
			"<Response><Errors><Error><Code>InvalidAction</Code><Message>The action RunInstances is not valid for this web service.</Message></Error></Errors><RequestID>"},
		{"unknown parameter", "Action=DescribeInstances&Version=2016-11-15&Colour=red", 400,
			"<Code>UnknownParameter</Code><Message>The parameter Colour is not recognized</Message>"},
		{"duplicate parameter", "Action=DescribeInstances&Version=2016-11-15&MaxResults=5&MaxResults=6", 400,
			"<Code>MalformedQueryString</Code>"},
		{"response namespace", "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=" + idWeb1, 200,
			`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := e.raw(&alice, "ec2", form, tt.body)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, body, tt.status, tt.want)
			}
			if !strings.Contains(string(body), resp.Header.Get("X-Amzn-Requestid")) {
				t.Errorf("request id header %q not in body", resp.Header.Get("X-Amzn-Requestid"))
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p, s string
		want bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*.internal", "ip-1.ec2.internal", true},
		{"**a", "a", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{`a\?`, "ab", false},
		{`a\\`, `a\`, true},
		{`a\`, `a\`, true},
		{"?", "é", true},
		{"*b*b*", "abab", true},
		{"*b*b*", "ab", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.p, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

func FuzzWildcardMatch(f *testing.F) {
	f.Add("web-*", "web-1")
	f.Add(`a\*?`, "a*b")
	f.Add("*?*?*", "xy")
	f.Fuzz(func(t *testing.T, p, s string) {
		got := wildcardMatch(p, s)
		// A pattern without metacharacters matches only itself.
		if !strings.ContainsAny(p, `*?\`) && got != (p == s) {
			t.Fatalf("literal %q vs %q: %v", p, s, got)
		}
		// Every string matches itself once metacharacters are escaped.
		esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
		if !wildcardMatch(esc, s) {
			t.Fatalf("escaped %q does not match %q", esc, s)
		}
		if !wildcardMatch("*", s) {
			t.Fatalf("* does not match %q", s)
		}
	})
}
