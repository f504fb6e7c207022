package hostcli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/host/authkeys"
	"github.com/jitssh/jitssh/internal/host/hostconfig"
	"github.com/jitssh/jitssh/internal/host/keyproto"
	"github.com/jitssh/jitssh/internal/host/keyservice"
	"github.com/jitssh/jitssh/internal/host/userdb"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/testutil/imdsfixture"
	"github.com/jitssh/jitssh/internal/varlink"
)

// Benchmarks of the instance side; bench/authkeys.sh runs them:
//
//	go test -run '^$' -bench JIT -benchtime 200x ./internal/hostcli
//
// Each reports, per operation measured, "NAME-ms-p50" and "NAME-ms-p99"
// (p99 of 200 samples is the second slowest), the load average when it
// started ("load1") and, where a floor is measured in the same loop, the
// ratio of medians. Operations measured together are interleaved, one of
// each per iteration, so that a change in the machine's load hits all of
// them alike. See docs/benchmarks.md.

// samples collects the durations of named operations.
type samples map[string][]time.Duration

func (s samples) time(name string, f func() error) error {
	start := time.Now()
	err := f()
	s[name] = append(s[name], time.Since(start))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	d = append([]time.Duration(nil), d...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[(len(d)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// report reports p50 and p99 of every operation, and the ratio of the
// medians of op and floor for each pair {op, floor} given.
func (s samples) report(b *testing.B, ratios ...[2]string) {
	for name, d := range s {
		if len(d) == 0 {
			continue
		}
		b.ReportMetric(ms(pct(d, 50)), name+"-ms-p50")
		b.ReportMetric(ms(pct(d, 99)), name+"-ms-p99")
	}
	for _, r := range ratios {
		if a, f := s[r[0]], s[r[1]]; len(a) > 0 && len(f) > 0 && pct(f, 50) > 0 {
			b.ReportMetric(float64(pct(a, 50))/float64(pct(f, 50)), r[0]+"/"+r[1])
		}
	}
}

// loadAverage returns the 1-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return -1
	}
	return f
}

// busyCPUs starts one busy-looping process per CPU, at normal priority, and
// returns a function that kills exactly those processes.
func busyCPUs(b *testing.B) (stop func()) {
	b.Helper()
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}
	for i := 0; i < runtime.NumCPU(); i++ {
		p := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := p.Start(); err != nil {
			stop()
			b.Fatalf("start busy loop: %v", err)
		}
		procs = append(procs, p)
	}
	time.Sleep(200 * time.Millisecond) // let the scheduler see them
	return stop
}

// precomputedIMDS answers managed-ssh-keys/ paths from a memo, as EC2's
// IMDS serves keys and OCSP staples signed once (by EIC when the key is
// pushed, by AWS when the staple is refreshed), while the sandbox's IMDS
// signs them again on every request. Tokens still come from, and are
// checked against, the sandbox. forget drops the memo (after a push).
type precomputedIMDS struct {
	inner http.Handler

	mu     sync.Mutex
	tokens map[string]bool
	memo   map[string]*httptest.ResponseRecorder
}

func (p *precomputedIMDS) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.memo = nil
}

func (p *precomputedIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cacheable := r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/latest/meta-data/managed-ssh-keys/")
	p.mu.Lock()
	rec, ok := p.memo[r.URL.Path]
	valid := p.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
	p.mu.Unlock()
	if cacheable && ok && valid {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	rec = httptest.NewRecorder()
	p.inner.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && rec.Code == http.StatusOK:
		if p.tokens == nil || len(p.tokens) > 10000 {
			p.tokens = map[string]bool{}
		}
		p.tokens[strings.TrimSpace(rec.Body.String())] = true
	case cacheable && (rec.Code == http.StatusOK || rec.Code == http.StatusNotFound):
		if p.memo == nil {
			p.memo = map[string]*httptest.ResponseRecorder{}
		}
		p.memo[r.URL.Path] = rec
	}
}

// buildShipped builds jitssh-host as `make packages` does (static, no cgo),
// or returns $JITSSH_BENCH_HOST_BIN (to compare another build).
var buildShipped = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("JITSSH_BENCH_HOST_BIN"); bin != "" {
		return bin, nil
	}
	bin, err := buildSafe() // for the directory sshd would accept
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(bin), "static")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-trimpath", "-o", out+"/", "github.com/jitssh/jitssh/cmd/jitssh-host", "github.com/jitssh/jitssh/cmd/jitssh-authkeys")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	// jitssh-authkeys-c as `make packages` builds it, when cc exists.
	if cc, err := exec.LookPath("cc"); err == nil {
		if b, err := exec.Command(cc, "-std=c99", "-O2", "-static", "-o", filepath.Join(out, "jitssh-authkeys-c"), "../../cmd/jitssh-authkeys-c/authkeys.c").CombinedOutput(); err != nil {
			return "", fmt.Errorf("cc: %v\n%s", err, b)
		}
	}
	return filepath.Join(out, "jitssh-host"), nil
})

// BenchmarkJITAuthorizedKeys runs the shipped AuthorizedKeysCommand as sshd
// does (empty environment, "-- USER FINGERPRINT") against the sandbox IMDS
// on 127.0.0.1, interleaved with /bin/true (the fork+exec floor), idle and
// with every CPU running a busy loop:
//   - authkeys: jitssh-authkeys asking the key service (io.jitssh.Keys,
//     served by this process as the userdb service serves it: every check
//     and audit event per call, signer chain cached), as installed;
//   - authkeys-inprocess: jitssh-host authorized-keys --config, which does
//     every IMDS round and check itself (also what jitssh-authkeys runs
//     when no service answers);
//   - authkeys-c: jitssh-authkeys-c, the same client as authkeys in C
//     (when built: a C compiler, or next to $JITSSH_BENCH_HOST_BIN).
//
// Sub-benchmarks: imds=precomputed (keys and staples served as EC2 serves
// them) and imds=sandbox (signed per request: measures the sandbox too).
func BenchmarkJITAuthorizedKeys(b *testing.B) {
	bin, err := buildShipped()
	if err != nil {
		b.Fatal(err)
	}
	srv := imdsfixture.New(b, imdsfixture.Options{Region: region, Instance: world.Instance{ID: instanceID}})
	s, w := srv.Signer(), srv.World
	imds := &precomputedIMDS{inner: srv.Handler()}
	var live bool
	var liveMu sync.Mutex
	srv.SetHandler(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		liveMu.Lock()
		l := live
		liveMu.Unlock()
		if l {
			imds.inner.ServeHTTP(rw, r)
			return
		}
		imds.ServeHTTP(rw, r)
	}))
	dir := b.TempDir()
	roots := filepath.Join(dir, "roots.pem")
	conf := filepath.Join(dir, "host.toml")
	os.WriteFile(roots, s.RootPEM(), 0o644)
	// keys_socket = "": authorized-keys verifies in its own process.
	os.WriteFile(conf, []byte(fmt.Sprintf("imds_endpoint = %q\ntrusted_roots = %q\naudit_file = %q\nsyslog = false\nkeys_socket = \"\"\n",
		srv.URL, roots, filepath.Join(dir, "audit.jsonl"))), 0o600)

	// The key service, as `jitssh-host userdb` runs it.
	hc, err := hostconfig.Load(conf)
	if err != nil {
		b.Fatal(err)
	}
	kcfg, aw, err := authkeys.Setup(hc)
	if err != nil {
		b.Fatal(err)
	}
	defer aw.Close()
	kcfg.Signers = authkeys.NewSignerCache(0)
	if kcfg.IMDS, err = authkeys.NewSharedIMDS(kcfg); err != nil {
		b.Fatal(err)
	}
	defer kcfg.IMDS.Close()
	sockDir, err := os.MkdirTemp("", "jk")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	keysSocket := filepath.Join(sockDir, "keys")
	kln, err := varlink.Listen(keysSocket, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		ks := &keyservice.Service{Config: kcfg, Log: slog.New(slog.DiscardHandler)}
		(&varlink.Server{Handler: ks.Handler(), Log: slog.New(slog.DiscardHandler)}).Serve(ctx, keyservice.RootOnly(kln, nil))
	}()
	defer func() { cancel(); <-served }()
	client := filepath.Join(filepath.Dir(bin), "jitssh-authkeys")

	// One key, pushed again before it expires (keys live 60 s).
	keyFile := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput(); err != nil {
		b.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(pk)
	var expires time.Time
	push := func() {
		if w.Now().Add(15 * time.Second).Before(expires) {
			return
		}
		expires = w.Now().Add(time.Minute)
		w.PushKey(world.PushedKey{InstanceID: instanceID, OSUser: "alice", PublicKey: strings.TrimSpace(string(pub)), Caller: caller, RequestID: "req-bench"})
		imds.forget()
	}
	// JITSSH_BENCH_HOST_BIN_BASELINE=PATH also times that build, interleaved
	// ("authkeys-baseline"), to compare two versions under the same load.
	baseline := os.Getenv("JITSSH_BENCH_HOST_BIN_BASELINE")
	run := func(bin string) error {
		cmd := exec.Command(bin, "authorized-keys", "--config", conf, "--", "alice", fp)
		if base := filepath.Base(bin); base == "jitssh-authkeys" || base == "jitssh-authkeys-c" {
			cmd = exec.Command(bin, "--socket", keysSocket, "--fallback", "none", "--", "alice", fp)
		}
		cmd.Env = []string{}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil || !bytes.Contains(out.Bytes(), bytes.TrimSpace(pub)) {
			return fmt.Errorf("%v, stdout %q, stderr %q", err, out.String(), errOut.String())
		}
		return nil
	}
	authorizedKeys := func() error { return run(client) }
	cClient := filepath.Join(filepath.Dir(bin), "jitssh-authkeys-c")
	if _, err := os.Stat(cClient); err != nil {
		b.Logf("no %s: authkeys-c not measured", cClient)
		cClient = ""
	}
	inProcess := func() error { return run(bin) }
	// The service's share of authkeys: the same call from this process.
	serviceCall := func() error {
		keys, err := keyproto.Ask(keysSocket, "alice", fp, 4*time.Second)
		if err == nil && !strings.Contains(keys, strings.TrimSpace(string(pub))) {
			err = fmt.Errorf("reply %q lacks the key", keys)
		}
		return err
	}
	floor := func() error {
		cmd := exec.Command("/bin/true")
		cmd.Env = []string{}
		return cmd.Run()
	}

	for _, c := range []struct {
		name       string
		live, busy bool
	}{
		{"imds=precomputed/cpus=idle", false, false},
		{"imds=precomputed/cpus=busy", false, true},
		{"imds=sandbox/cpus=idle", true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			liveMu.Lock()
			live = c.live
			liveMu.Unlock()
			load := loadAverage() // before the busy loops
			if c.busy {
				defer busyCPUs(b)()
			}
			push()
			warm := []func() error{authorizedKeys, inProcess}
			if cClient != "" {
				warm = append(warm, func() error { return run(cClient) })
			}
			for _, f := range warm { // warm the page cache
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
			s := samples{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				push()
				if err := s.time("true", floor); err != nil {
					b.Fatal(err)
				}
				if err := s.time("authkeys", authorizedKeys); err != nil {
					b.Fatal(err)
				}
				if err := s.time("authkeys-inprocess", inProcess); err != nil {
					b.Fatal(err)
				}
				if cClient != "" {
					if err := s.time("true", floor); err != nil {
						b.Fatal(err)
					}
					if err := s.time("authkeys-c", func() error { return run(cClient) }); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.time("service-call", serviceCall); err != nil {
					b.Fatal(err)
				}
				if baseline != "" {
					if err := s.time("authkeys-baseline", func() error { return run(baseline) }); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(load, "load1")
			s.report(b, [2]string{"authkeys", "true"}, [2]string{"authkeys-c", "true"}, [2]string{"authkeys-c", "authkeys"}, [2]string{"authkeys-inprocess", "true"}, [2]string{"authkeys-baseline", "true"})
		})
	}
}

// BenchmarkJITLookup measures glibc's lookup of a known JIT user, of an
// unknown name (a fresh one each time, so the userdb service asks IMDS, and
// the same one again: answered from its negative cache until issue 10; now
// root's lookups, these included, ask IMDS again, one request) and of root
// (from /etc/passwd, no userdb), interleaved:
//   - glibc-*: in this process through os/user, which with cgo is glibc's
//     getpwnam_r (nss-systemd for JIT users: the known user is in no
//     file, so resolving it proves the path); the cost of a lookup itself;
//   - getent-*: the getent command, fork and exec included, as a shell
//     script sees it;
//   - varlink-known: GetUserRecord straight to the service's socket.
func BenchmarkJITLookup(b *testing.B) {
	requireRootSSHD(b)
	h := newJITHost(b)
	// The production default negative_ttl (the tests use 100ms).
	h.stopService()
	conf, err := os.ReadFile(h.config)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(h.config, bytes.Replace(conf, []byte("negative_ttl = \"100ms\"\n"), nil, 1), 0o600)
	h.start()
	name := randName("bench")
	h.push(name, adminCaller)
	rec, err := getent("passwd", name)
	if err != nil {
		b.Fatal(err)
	}
	u, err := user.Lookup(name)
	if err != nil || !strings.HasPrefix(rec, name+":x:"+u.Uid+":") {
		b.Fatalf("os/user does not go through glibc (build with cgo): %v %v, getent %q", u, err, rec)
	}
	sock := userdb.Dir + "/" + h.service
	unknown := "nokey" + name
	var n int
	notFound := func(err error) error {
		if err == nil {
			return errors.New("unknown name resolved")
		}
		return nil
	}
	ops := []struct {
		name string
		f    func() error
	}{
		{"glibc-root", func() error { _, err := user.Lookup("root"); return err }},
		{"glibc-known", func() error { _, err := user.Lookup(name); return err }},
		{"glibc-unknown-fresh", func() error {
			n++
			_, err := user.Lookup(fmt.Sprintf("nokey%d%s", n, name))
			return notFound(err)
		}},
		{"glibc-unknown-cached", func() error { _, err := user.Lookup(unknown); return notFound(err) }},
		{"varlink-known", func() error {
			_, err := varlink.Invoke(context.Background(), sock, "io.systemd.UserDatabase.GetUserRecord", map[string]any{"userName": name, "service": h.service}, false)
			return err
		}},
		{"getent-root", func() error { _, err := getent("passwd", "root"); return err }},
		{"getent-known", func() error { _, err := getent("passwd", name); return err }},
		{"getent-unknown", func() error { _, err := getent("passwd", unknown); return notFound(err) }},
	}
	load := loadAverage()
	s := samples{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, op := range ops {
			if err := s.time(op.name, op.f); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(load, "load1")
	s.report(b, [2]string{"getent-known", "getent-root"}, [2]string{"glibc-known", "glibc-root"})
}
