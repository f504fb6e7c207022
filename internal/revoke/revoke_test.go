package revoke

import (
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
)

func TestOwns(t *testing.T) {
	alice := policy.Person{User: "alice"}
	arn := policy.Person{PrincipalARN: "arn:aws:sts::123456789012:assumed-role/Dev/alice"}
	for _, c := range []struct {
		p     policy.Person
		owner string
		want  bool
	}{
		{alice, "arn:aws:sts::123456789012:assumed-role/Dev/alice", true},
		{alice, "arn:aws:sts::123456789012:assumed-role/Ops/alice", true},
		{alice, "arn:aws:iam::123456789012:user/alice", true},
		{alice, "arn:aws:iam::123456789012:user/team/alice", true},
		{alice, "arn:aws:sts::123456789012:assumed-role/Dev/malice", false},
		{alice, "arn:aws:sts::123456789012:assumed-role/alice/bob", false},
		{alice, "alice", false},
		{alice, "", false},
		{arn, "arn:aws:sts::123456789012:assumed-role/Dev/alice", true},
		{arn, "arn:aws:sts::123456789012:assumed-role/Ops/alice", false},
	} {
		if got := owns(c.p, c.owner); got != c.want {
			t.Errorf("owns(%+v, %q) = %v", c.p, c.owner, got)
		}
	}
}

func TestInstanceOf(t *testing.T) {
	online := map[string]awsapi.ManagedInstance{
		"i-1": {ID: "i-1", PingStatus: "Online", PlatformType: "Linux"},
		"i-2": {ID: "i-2", PingStatus: "ConnectionLost", PlatformType: "Linux"},
		"i-3": {ID: "i-3", PingStatus: "Online", PlatformType: "Windows"},
	}
	for id, want := range map[string]string{"i-1": "", "i-2": "SSM agent ConnectionLost", "i-3": "Windows: no jitssh-host", "i-4": "not registered with SSM"} {
		got := instanceOf(id, "", online)
		if got.Why != want || got.Managed != (want == "") {
			t.Errorf("%s: %+v, want why %q", id, got, want)
		}
	}
}

func TestReportFailed(t *testing.T) {
	r := &Report{Results: []Result{{Status: Done}, {Status: Failed}, {Status: NotManaged}, {Status: Failed}}}
	if r.Failed() != 2 {
		t.Errorf("Failed() = %d", r.Failed())
	}
}
