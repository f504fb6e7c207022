package sandbox

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/sandbox/sshd"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/testkeys"
)

// TestBastionForwardsIntoItsVPC logs in to bastion-1 on its public
// address with an EIC key, then reaches app-1 (private, SSM offline) by
// private IP and db-1 by private DNS name through direct-tcpip, as ssh -J
// does; addresses outside the VPC are refused.
func TestBastionForwardsIntoItsVPC(t *testing.T) {
	sb, err := Start(context.Background(), Config{SSHMode: sshd.Embedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	byName := map[string]InstanceInfo{}
	for _, in := range sb.Instances {
		byName[in.Name] = in
	}
	user := LocalUser()
	if os.Geteuid() == 0 {
		user = "root"
	}
	key := testkeys.New(t)
	signer, line := key.Signer, key.AuthorizedKey()
	for _, n := range []string{"bastion-1", "app-1", "db-1"} {
		sb.World.PushKey(world.PushedKey{InstanceID: byName[n].ID, OSUser: user, PublicKey: line, Caller: sb.Identity.ARN, RequestID: "t"})
	}
	pinned := func(id string) ssh.HostKeyCallback {
		return func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if string(k.Marshal()) != string(sb.hosts[id].HostKey().Marshal()) {
				return errors.New("host key is not " + id + "'s")
			}
			return nil
		}
	}
	cfg := func(id string) *ssh.ClientConfig {
		return &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: pinned(id), Timeout: 10 * time.Second}
	}
	bastion := byName["bastion-1"]
	jump, err := ssh.Dial("tcp", bastion.PublicAddr, cfg(bastion.ID))
	if err != nil {
		t.Fatalf("ssh bastion-1 at %s: %v", bastion.PublicAddr, err)
	}
	defer jump.Close()
	for name, addr := range map[string]string{"app-1": byName["app-1"].PrivateIP + ":22", "db-1": "ip-10-0-2-21.ec2.internal:22"} {
		in := byName[name]
		c, err := jump.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("bastion → %s (%s): %v", name, addr, err)
		}
		cc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg(in.ID))
		if err != nil {
			t.Fatalf("SSH to %s through the bastion: %v", name, err)
		}
		client := ssh.NewClient(cc, chans, reqs)
		sess, _ := client.NewSession()
		out, err := sess.Output("echo via-bastion")
		if err != nil || strings.TrimSpace(string(out)) != "via-bastion" {
			t.Errorf("%s via bastion: %q %v", name, out, err)
		}
		client.Close()
	}
	for _, addr := range []string{"10.9.9.9:22", "192.168.0.1:22", byName["old-1"].PrivateIP + ":22", byName["app-1"].PrivateIP + ":8080"} {
		if c, err := jump.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("bastion forwarded to %s", addr)
		}
	}
}
