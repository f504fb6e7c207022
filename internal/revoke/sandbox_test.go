//go:build linux

package revoke

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// clientAs returns an awsapi client for the sandbox identity name (the
// AWS environment is the sandbox's only).
func clientAs(t *testing.T, sb *sandbox.Sandbox, name string) *awsapi.Client {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, id := range sb.World.Identities() {
		if id.Name == name {
			t.Setenv("AWS_ACCESS_KEY_ID", id.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", id.SecretAccessKey)
		}
	}
	c, err := awsapi.New(context.Background(), awsapi.Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApplyPartialFailureAndRerun: in the embedded SSH mode the
// instances run no jitssh-host, so their steps fail (reported with why)
// while the deny is in force; running again updates the SCP and fails
// the same way; the undo takes it off, twice safely. The errors a caller
// without the rights gets are typed.
func TestApplyPartialFailureAndRerun(t *testing.T) {
	sb := sandboxenv.Start(t, sandbox.Config{StateDir: t.TempDir(), SSHMode: sshd.Embedded}, false)
	ctx := context.Background()
	admin := clientAs(t, sb, "admin")
	o := Options{Person: policy.Person{User: "alice"}}
	plan, err := MakePlan(ctx, admin, o)
	if err != nil {
		t.Fatal(err)
	}
	if plan.DenyIn != DenySCP || plan.OrgRoot == "" || len(plan.Instances) == 0 {
		t.Fatalf("plan %+v", plan)
	}
	rep := Apply(ctx, admin, plan)
	if rep.Results[0].Kind != "scp" || rep.Results[0].Status != Done || !strings.Contains(rep.Results[0].Detail, "created") {
		t.Errorf("first result %+v", rep.Results[0])
	}
	if rep.Failed() == 0 {
		t.Errorf("no instance step failed without jitssh-host: %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Status == Failed && !strings.Contains(r.Detail, "jitssh-host: not found") {
			t.Errorf("failure without its reason: %+v", r)
		}
	}
	alice := clientAs(t, sb, "alice")
	if _, err := alice.SendSSHPublicKey(ctx, sb.Instances[0].ID, "alice", testkeys.New(t).Line("x")); err == nil || !strings.Contains(err.Error(), "explicit deny in a service control policy") {
		t.Errorf("alice's push under the revocation: %v", err)
	}
	admin = clientAs(t, sb, "admin")
	plan, err = MakePlan(ctx, admin, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep := Apply(ctx, admin, plan); !strings.Contains(rep.Results[0].Detail, "updated") {
		t.Errorf("second run: %+v", rep.Results[0])
	}
	for i := 0; i < 2; i++ {
		o.Undo = true
		plan, err = MakePlan(ctx, admin, o)
		if err != nil {
			t.Fatal(err)
		}
		rep = Apply(ctx, admin, plan)
		want := []string{"deleted", "no such service control policy"}[i]
		if !strings.Contains(rep.Results[0].Detail, want) {
			t.Errorf("undo %d: %+v, want %q", i+1, rep.Results[0], want)
		}
	}
	alice = clientAs(t, sb, "alice")
	if _, err := alice.SendSSHPublicKey(ctx, sb.Instances[0].ID, "alice", testkeys.New(t).Line("x")); err != nil {
		t.Errorf("alice's push after the undo: %v", err)
	}

	dev := clientAs(t, sb, "default")
	_, err = MakePlan(ctx, dev, Options{Person: policy.Person{User: "alice"}, DenyIn: DenySCP})
	var su *SCPUnavailableError
	if !errors.As(err, &su) {
		t.Errorf("--deny-in scp without the rights: %v", err)
	}
	_, err = MakePlan(ctx, admin, Options{Person: policy.Person{User: "nobody"}, DenyIn: DenyRole})
	var nr *NoRolesError
	if !errors.As(err, &nr) {
		t.Errorf("no role known: %v", err)
	}
}
