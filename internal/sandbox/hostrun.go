package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/passwdns"
)

// hostRunner runs the real jitssh-host on the sandbox's EC2 instances for
// Run Command's jitssh-host users scripts (package hostcmd), each with
// the instance's own configuration (its block list, JIT users and audit
// file; never the machine's).
type hostRunner struct {
	mu    sync.Mutex
	bin   string                  // jitssh-host; "" when the sandbox runs none (embedded mode)
	confs map[string]string       // host.toml by instance id
	dbs   map[string]*passwdns.DB // managed instances' own accounts, entered to run it
}

// addManaged writes a managed instance's jitssh-host configuration (its
// own block list and audit file; no IMDS, no key service) and registers
// it: jitssh-host then runs in the instance's account database.
func (r *hostRunner) addManaged(bin, id, dir string, db *passwdns.DB) error {
	conf := filepath.Join(dir, "host.toml")
	text := fmt.Sprintf("# jitssh-host configuration of simulated managed instance %s\naudit_file = %q\nsyslog = false\nblock_file = %q\nkeys_socket = \"\"\n",
		id, filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "blocked"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return err
	}
	r.add(bin, id, conf)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dbs == nil {
		r.dbs = map[string]*passwdns.DB{}
	}
	r.dbs[id] = db
	return nil
}

func (r *hostRunner) add(bin, id, conf string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.confs == nil {
		r.confs = map[string]string{}
	}
	r.bin, r.confs[id] = bin, conf
}

// runHost is apis.Options.RunHost: `jitssh-host ARGS --config HOST.TOML`
// as root on instance id, bounded as the key-placement script is.
func (sb *Sandbox) runHost(id string, args []string) (apis.ScriptRun, bool) {
	sb.hostRun.mu.Lock()
	bin, conf, db := sb.hostRun.bin, sb.hostRun.confs[id], sb.hostRun.dbs[id]
	sb.hostRun.mu.Unlock()
	if bin == "" || conf == "" {
		return apis.ScriptRun{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), placementTimeout)
	defer cancel()
	argv := append(append([]string{}, args...), "--config", conf)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	var err error
	if db != nil {
		err = db.Start(cmd.Start)
	} else {
		err = cmd.Start()
	}
	if err == nil {
		err = cmd.Wait()
	}
	run := apis.ScriptRun{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		run.Code, run.Stderr = 1, run.Stderr+fmt.Sprintf("jitssh-sandbox: jitssh-host did not end within %v and was killed\n", placementTimeout)
	case errors.As(err, &ee):
		run.Code = max(ee.ExitCode(), 1)
	case err != nil:
		run.Code, run.Stderr = 127, run.Stderr+"jitssh-sandbox: "+err.Error()+"\n"
	}
	sb.log.Info("jitssh-host ran for Run Command", "instance", id, "args", strings.Join(args, " "), "exit", run.Code,
		"elapsed", time.Since(start).Round(time.Millisecond), "stderr", strings.TrimSpace(run.Stderr))
	return run, true
}
