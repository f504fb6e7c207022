package e2e

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/jitssh/jitssh/internal/sandbox"
	"github.com/jitssh/jitssh/internal/sandbox/sshd"
)

// webFleet is the default fleet with web-1 and web-2 tagged Role=web,
// plus a third, web-10, tagged the same.
func webFleet(c *sandbox.Config) {
	c.Instances = sandbox.DefaultInstances()
	for i := range c.Instances[:2] {
		c.Instances[i].Tags["Role"] = "web"
	}
	web10 := c.Instances[1]
	web10.ID, web10.PrivateIP, web10.PrivateDNS = web10ID, "10.0.1.110", "ip-10-0-1-110.ec2.internal"
	web10.Public, web10.PublicIP, web10.PublicDNS, web10.JIT = false, "", "", false
	web10.Tags = map[string]string{"Name": "web-10", "Role": "web"}
	web10.Hostname = "ip-10-0-1-110"
	c.Instances = append(c.Instances, web10)
}

// web10ID sorts before web-1's id, so EC2 (and the picker's unfiltered list)
// shows web-10 first.
const web10ID = "i-0a1b2c3d4e5f00000"

// TestPickerEnterLandsOnWhatWasTyped drives the picker of `jitssh ssh
// tag:Role=web` (three matches) on a real terminal (a pty), as issue 11
// describes: what is typed decides where Enter lands, the choice is echoed
// before connecting, and text matching nothing connects nowhere.
func TestPickerEnterLandsOnWhatWasTyped(t *testing.T) {
	e := newEnv(t, sshd.Embedded, webFleet)
	user := currentUser(t)
	host := map[string]string{}
	byName := map[string]sandbox.InstanceInfo{}
	for _, in := range e.sb.Instances {
		host[in.ID] = in.Hostname
		byName[in.Name] = in
	}
	web1, web2 := byName["web-1"], byName["web-2"]
	if byName["web-10"].ID != web10ID {
		t.Fatalf("no web-10 in %v", byName)
	}
	for _, c := range []struct {
		name  string
		typed []string
		want  string // instance id Enter lands on
	}{
		// Every row holds w,e,b,-,2 in order (name, AZ, addresses): the
		// old picker kept all three, the cursor on the first (web-10).
		{"the typed name", []string{"web-2"}, web2.ID},
		// web-1 and web-10 both start with web-1: the exact name wins,
		// whichever order EC2 lists them in.
		{"an exact name over a longer one", []string{"web-1"}, web1.ID},
		{"down to the longer one", []string{"web-1", "\x1b[B"}, web10ID},
		{"an address", []string{"10.0.1.110"}, web10ID},
	} {
		t.Run(c.name, func(t *testing.T) {
			term, done, ptmx := startPicker(t, e)
			defer ptmx.Close()
			// Everything from here on: the echo can come as soon as Enter
			// is read, before this goroutine looks again.
			before := term.seen()
			for _, k := range c.typed {
				io.WriteString(ptmx, k)
				time.Sleep(50 * time.Millisecond)
			}
			io.WriteString(ptmx, "\r")
			// Where Enter landed: the instance that ran hostname.
			var hosts []string
			for _, h := range host {
				hosts = append(hosts, regexp.QuoteMeta(h))
			}
			// (At the start of a line, or right after the picker's or the progress
			// line's erasing.)
			g := term.expect(t, `(?m)(?:^|\x1b\[J|\x1b\[K)(`+strings.Join(hosts, "|")+`)\r?$`)
			if g[1] != host[c.want] {
				t.Fatalf("Enter landed on the instance with hostname %s, want %s (%s)", g[1], host[c.want], c.want)
			}
			// And it was said before connecting.
			echo := regexp.MustCompile(`→ (\S+) \((i-[0-9a-f]+)\)`).FindStringSubmatch(term.since(before))
			if echo == nil || echo[2] != c.want {
				t.Fatalf("no echo of the choice %s before connecting: %q", c.want, echo)
			}
			if err := <-done; err != nil {
				t.Fatalf("jitssh ssh: %v", err)
			}
		})
	}

	t.Run("text matching nothing connects nowhere", func(t *testing.T) {
		before := e.pushedKeys(user)
		term, done, ptmx := startPicker(t, e)
		defer ptmx.Close()
		io.WriteString(ptmx, "web-3")
		term.expect(t, `0/3`)
		io.WriteString(ptmx, "\r")
		time.Sleep(500 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("jitssh ended (%v) on Enter with no match", err)
		default:
		}
		if term.contains("→") {
			t.Fatal("Enter with no match chose an instance")
		}
		io.WriteString(ptmx, "\x1b")
		term.expect(t, `no instance chosen`)
		if err := <-done; err == nil {
			t.Fatal("jitssh ssh succeeded after Esc")
		}
		if n := e.pushedKeys(user); n != before {
			t.Fatalf("%d keys pushed with nothing chosen", n-before)
		}
	})
}

// startPicker runs `jitssh ssh tag:Role=web -- hostname` on a new pty and
// waits for the picker; done delivers its exit.
func startPicker(t *testing.T, e *env) (*ptyReader, <-chan error, io.ReadWriteCloser) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "jitssh"), "ssh", "tag:Role=web", "--", "hostname")
	cmd.Env = e.vars
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 160, Rows: 40})
	if err != nil {
		t.Fatal(err)
	}
	term := &ptyReader{}
	go term.run(ptmx)
	term.expect(t, `3 instances match tag "tag:Role=web": pick one`)
	term.expect(t, `3/3`)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return term, done, ptmx
}

// contains reports whether the terminal has shown s since the last expect.
func (p *ptyReader) contains(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Contains(p.buf.String()[p.at:], s)
}

// seen returns how much the terminal has shown so far.
func (p *ptyReader) seen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Len()
}

// since returns what the terminal showed after seen returned at.
func (p *ptyReader) since(at int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()[at:]
}
