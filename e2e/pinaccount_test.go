package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/testutil/sandboxenv"
)

// orgProdAccount is the built-in organization's member account prod.
const orgProdAccount = "345678901234"

// TestPinAccountMismatch: the built-in organization with, besides dev's
// real api-west-1, an API-only instance of prod in the same region
// claiming its id (which AWS never allows; the sandbox takes it past the
// configuration's checks). Connecting to ID.REGION.DEV pins the key with
// dev's account; ID.REGION.PROD is then refused by the proxy with the
// mismatch and its advice, ssh exits 255, and no key is pushed in prod;
// KnownHostsCommand answers nothing for prod. With the pin's account made
// prod's (as if the other machine had been pinned first), the real
// machine is refused in turn, its sshd never logged into, no key pushed;
// after `jitssh known-hosts forget ID` it connects and is pinned for dev.
func TestPinAccountMismatch(t *testing.T) {
	e := newOrgEnvWith(t, sandboxenv.Modes(t)[0], func(a *config.Account) {
		for _, m := range a.Org.Members {
			for _, r := range m.Regional {
				if m.Account.Account == orgProdAccount && r.Region == orgMemberRegion {
					claim := r.Instances[0] // prod-west-1, API-only
					claim.ID, claim.Tags = orgMemberInstance, map[string]string{"Name": "claims-api-west-1"}
					r.Instances = append(r.Instances, claim)
				}
			}
		}
	})
	var real sandbox.InstanceInfo
	for _, in := range e.sb.Instances {
		if in.ID == orgMemberInstance {
			real = in
		}
	}
	dev := orgMemberInstance + "." + orgMemberRegion + "." + orgMemberAccount
	prod := orgMemberInstance + "." + orgMemberRegion + "." + orgProdAccount
	pins := filepath.Join(e.home, ".config", "jitssh", "known_hosts")

	if out, err := e.run("jitssh", "ssh", dev, "--", "true"); err != nil {
		t.Fatalf("jitssh ssh %s: %v\n%s", dev, err, out)
	}
	pinned, err := os.ReadFile(pins)
	if err != nil || !bytes.Contains(pinned, []byte(orgMemberInstance+" ")) || !bytes.HasSuffix(pinned, []byte(" account="+orgMemberAccount+"\n")) {
		t.Fatalf("pin file after connecting to %s: %v\n%s", dev, err, pinned)
	}

	refused := func(target, pinnedAccount, thisAccount string) {
		t.Helper()
		audit, _ := os.ReadFile(real.AuditLog)
		pushes := trailPushes(t, e.sb.CloudTrail, orgMemberInstance)
		out, err := e.run("jitssh", "ssh", target, "--", "true")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 255 {
			t.Fatalf("jitssh ssh %s = %v, want exit status 255\n%s", target, err, out)
		}
		for _, w := range []string{
			"the host key of " + orgMemberInstance + " was pinned in account " + pinnedAccount + ", but this " + orgMemberInstance + " is in account " + thisAccount,
			"another machine claiming the id", "`jitssh known-hosts forget " + orgMemberInstance + "`",
		} {
			if !strings.Contains(string(out), w) {
				t.Errorf("jitssh ssh %s: the output lacks %q:\n%s", target, w, out)
			}
		}
		if got := trailPushes(t, e.sb.CloudTrail, orgMemberInstance); got != pushes {
			t.Errorf("jitssh ssh %s pushed a key: SendSSHPublicKey of %s went from %d to %d", target, orgMemberInstance, pushes, got)
		}
		if after, _ := os.ReadFile(real.AuditLog); !bytes.Equal(after, audit) {
			t.Errorf("jitssh ssh %s logged into the real machine:\n%s", target, after[len(audit):])
		}
	}
	refused(prod, orgMemberAccount, orgProdAccount)
	if after, _ := os.ReadFile(pins); !bytes.Equal(after, pinned) {
		t.Errorf("the refused connection changed the pins:\n%s", after)
	}
	// KnownHostsCommand: nothing for the other account (the name says
	// which), the pin for the pin's.
	for target, want := range map[string]bool{prod: false, dev: true} {
		out, err := e.run("jitssh", "known-hosts", "lookup", "--reason=ADDRESS", target)
		if err != nil || bytes.Contains(out, []byte("ssh-")) != want {
			t.Errorf("jitssh known-hosts lookup %s = %v\n%s", target, err, out)
		}
	}

	// The pin made prod's: the real machine, in dev, is refused.
	if err := os.WriteFile(pins, bytes.ReplaceAll(pinned, []byte("account="+orgMemberAccount), []byte("account="+orgProdAccount)), 0o600); err != nil {
		t.Fatal(err)
	}
	refused(dev, orgProdAccount, orgMemberAccount)
	if out, err := e.run("jitssh", "known-hosts", "forget", orgMemberInstance); err != nil {
		t.Fatalf("jitssh known-hosts forget: %v\n%s", err, out)
	}
	if out, err := e.run("jitssh", "ssh", dev, "--", "true"); err != nil {
		t.Fatalf("jitssh ssh %s after forget: %v\n%s", dev, err, out)
	}
	if after, _ := os.ReadFile(pins); !bytes.Equal(after, pinned) {
		t.Errorf("the pin re-learned after forget:\n%s\nwant\n%s", after, pinned)
	}
}

// trailPushes counts the successful SendSSHPublicKey calls of instance
// id in CloudTrail, in any account.
func trailPushes(t *testing.T, path, id string) int {
	t.Helper()
	n := 0
	for _, ev := range trailEvents(t, path) {
		if ev.EventName == "SendSSHPublicKey" && trailParam(ev, "instanceId") == id && ev.ErrorCode == "" {
			n++
		}
	}
	return n
}
