package connect

import (
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/transport"
)

// The refused-login explanation: offered whenever ssh hung up soon after
// the key exchange (its exit status decides, in `jitssh ssh`), and marked
// as shown by the stream itself only for an OpenSSH server that sent too
// little for a login to have succeeded (byte counts measured with OpenSSH
// 9.2, see loginBytes). Never for a rejected host key (the server says
// nothing after NEWKEYS then) or when the instance's side ended.
func TestExplainEnd(t *testing.T) {
	o := ProxyOptions{User: "alice"}
	inst := targets.Instance{ID: "i-0a1b2c3d4e5f00008", Name: "legacy-1"}
	start := time.Now()
	rep := func(version string, after int, sshClosed bool) *streamReport {
		return &streamReport{start: start, version: version, firstByte: start, newKeys: start.Add(50 * time.Millisecond),
			afterKex: after, sshClosed: sshClosed, end: start.Add(90 * time.Millisecond)}
	}
	for _, c := range []struct {
		name           string
		r              *streamReport
		login, refused bool
	}{
		{"OpenSSH refusal", rep("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10", 448, true), true, true},
		{"OpenSSH refusal, several keys offered", rep("SSH-2.0-OpenSSH_9.6", 700, true), true, true},
		{"OpenSSH, ssh host true", rep("SSH-2.0-OpenSSH_9.2p1", 1048, true), true, false},
		{"another server", rep("SSH-2.0-Go", 300, true), true, false},
		{"host key refused by ssh", rep("SSH-2.0-OpenSSH_9.6", 0, true), false, false},
		{"a long session", rep("SSH-2.0-OpenSSH_9.6", authWatchBytes, true), false, false},
		{"the instance's side ended", rep("SSH-2.0-OpenSSH_9.6", 448, false), false, false},
		{"no key exchange", &streamReport{start: start, sshClosed: true, end: start}, false, false},
	} {
		e := o.explainEnd(inst, transport.NameSSM, c.r)
		if (e.Login != "") != c.login || e.Refused != c.refused || e.Ended != "" {
			t.Errorf("%s: %+v, want login %v refused %v", c.name, e, c.login, c.refused)
		}
		if e.Login != "" {
			for _, want := range []string{"i-0a1b2c3d4e5f00008 (legacy-1) 40ms after the key exchange", `key for OS user "alice" with EC2 Instance Connect`, "lacks EC2 Instance Connect"} {
				if !strings.Contains(e.Login, want) {
					t.Errorf("%s: explanation lacks %q:\n%s", c.name, want, e.Login)
				}
			}
		}
	}
	managed := targets.Instance{ID: "mi-0a1b2c3d4e5f00001", Managed: true}
	if e := o.explainEnd(managed, transport.NameSSM, rep("SSH-2.0-OpenSSH_9.6", 448, true)); !strings.Contains(e.Login, "placed the key for OS user \"alice\" with SSM Run Command") {
		t.Errorf("managed instance: %q", e.Login)
	}
}
