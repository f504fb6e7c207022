package connect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/openssh/knownhosts"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
	"github.com/jitssh/jitssh/internal/transport"
)

// accountAPI answers DescribeInstances with one running instance owned by
// owner, and counts key pushes, which wait for the connection to be given
// up (so that the test, not a race, decides which error comes first).
type accountAPI struct {
	API
	id, owner string
	pushes    atomic.Int32
}

func (a *accountAPI) DescribeInstances(context.Context, []string, map[string][]string) ([]awsapi.Instance, error) {
	return []awsapi.Instance{{ID: a.id, State: "running", OwnerID: a.owner, VpcID: "vpc-1", SubnetID: "subnet-1", PrivateIP: "10.0.0.1"}}, nil
}

func (a *accountAPI) InstanceInformation(context.Context, map[string][]string) ([]awsapi.ManagedInstance, error) {
	return nil, nil
}

func (a *accountAPI) SendSSHPublicKey(ctx context.Context, _, _, _ string) (string, error) {
	a.pushes.Add(1)
	<-ctx.Done()
	return "", ctx.Err()
}

// countingDialer counts transports asked for; their Dial waits for the
// connection to be given up.
type countingDialer struct{ dials atomic.Int32 }

func (d *countingDialer) Transport(_ context.Context, name string, _ targets.Instance) (transport.Transport, error) {
	return waitingTransport{name: name, d: d}, nil
}

type waitingTransport struct {
	name string
	d    *countingDialer
}

func (t waitingTransport) Name() string { return t.name }

func (t waitingTransport) Dial(ctx context.Context, _ targets.Instance, _ int) (transport.Conn, error) {
	t.d.dials.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPinOfAnotherAccount: an instance id pinned in account A, met in
// account B, is refused with an *AccountMismatchError; when the account
// is known before connecting, no key is pushed and nothing is dialled.
func TestPinOfAnotherAccount(t *testing.T) {
	const id, a, b = "i-0123456789abcdef0", "111111111111", "222222222222"
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pins := &knownhosts.Store{Path: filepath.Join(dir, "known_hosts")}
	if err := pins.Pin(id, a, []ssh.PublicKey{testkeys.Public(t)}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(pins.Path)
	if err != nil {
		t.Fatal(err)
	}
	pub := testkeys.New(t).AuthorizedKey()
	for _, c := range []struct {
		name      string
		transport string
		resolved  *targets.Instance
		early     bool // refused before pushing and dialling
	}{
		{"resolved by the caller", transport.NameEICE, &targets.Instance{ID: id, State: "running", Account: b, VpcID: "vpc-1"}, true},
		{"looked up", transport.NameEICE, nil, true},
		{"ssm, looked up alongside", transport.NameSSM, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, dialer := &accountAPI{id: id, owner: b}, &countingDialer{}
			err := Proxy(context.Background(), ProxyOptions{
				API: api, Target: targets.Spec{Kind: targets.KindInstanceID, Value: id}, User: "ec2-user", Port: 22,
				Transport: c.transport, PublicKey: pub, Resolved: c.resolved, Pins: pins, Dialer: dialer,
			}, strings.NewReader(""), &strings.Builder{})
			var mm *knownhosts.AccountMismatchError
			if !errors.As(err, &mm) || mm.Alias != id || mm.PinnedAccount != a || mm.Account != b || mm.File != pins.Path {
				t.Fatalf("Proxy = %v, want *knownhosts.AccountMismatchError{%s, %s, %s}", err, id, a, b)
			}
			if c.early && (api.pushes.Load() != 0 || dialer.dials.Load() != 0) {
				t.Errorf("%d key pushes and %d dials before refusing", api.pushes.Load(), dialer.dials.Load())
			}
			if after, _ := os.ReadFile(pins.Path); string(after) != string(before) {
				t.Errorf("the pin changed:\n%s", after)
			}
		})
	}
}
