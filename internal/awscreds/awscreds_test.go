package awscreds

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
)

func intp(i int) *int { return &i }

// TestCacheKeyMatchesBotocore: keys computed by Python's json.dumps +
// sha1 (botocore's _create_cache_key) for the same arguments.
func TestCacheKeyMatchesBotocore(t *testing.T) {
	cases := []struct {
		args RoleArgs
		want string
	}{
		{RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin"}, "51e7b105b5040ce662656c8dc6ab4de70c4de7ad"},
		{RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin", SerialNumber: "arn:aws:iam::123456789012:mfa/carol",
			DurationSeconds: intp(3600), ExternalID: "ext\"é😀\x01", RoleSessionName: "s"}, "40c57fb0716fcb62c72483ff75a1e41e022245d8"},
	}
	for _, c := range cases {
		if got := c.args.CacheKey(); got != c.want {
			t.Errorf("%+v: key %s, botocore's %s", c.args, got, c.want)
		}
	}
}

// TestCacheKeyAgainstPython computes keys with the python3 on the
// machine (botocore's own function when botocore is installed).
func TestCacheKeyAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	args := []RoleArgs{
		{RoleARN: "arn:aws:iam::111122223333:role/path/R", SerialNumber: "arn:aws:iam::111122223333:mfa/u", ExternalID: "x<y>&z\u2028\x7f\t"},
		{RoleARN: "arn:aws:iam::111122223333:role/R", DurationSeconds: intp(900), RoleSessionName: "jane@example.com"},
	}
	// botocore's own function where this python3 has botocore (the pip
	// aws CLI's python may be another), else the same json.dumps + sha1
	const script = `
import sys, json, hashlib
a = json.loads(sys.argv[1])
try:
    from botocore.credentials import AssumeRoleCredentialFetcher
except ImportError:
    print(hashlib.sha1(json.dumps(a, sort_keys=True).encode("utf-8")).hexdigest())
    sys.exit(0)
role = a.pop("RoleArn")
f = AssumeRoleCredentialFetcher(lambda *x, **k: None, None, role, extra_args=a)
print(f._cache_key)
`
	for _, a := range args {
		m := map[string]any{"RoleArn": a.RoleARN}
		if a.SerialNumber != "" {
			m["SerialNumber"] = a.SerialNumber
		}
		if a.ExternalID != "" {
			m["ExternalId"] = a.ExternalID
		}
		if a.RoleSessionName != "" {
			m["RoleSessionName"] = a.RoleSessionName
		}
		if a.DurationSeconds != nil {
			m["DurationSeconds"] = *a.DurationSeconds
		}
		j, _ := jsonMarshal(m)
		out, err := exec.Command(py, "-c", script, j).CombinedOutput()
		if err != nil {
			t.Fatalf("botocore: %v\n%s", err, out)
		}
		if got, want := a.CacheKey(), strings.TrimSpace(string(out)); got != want {
			t.Errorf("%+v: key %s, botocore's %s", a, got, want)
		}
	}
}

func testEntry(exp time.Time) *Entry {
	return &Entry{AccessKeyID: "ASIAJITSSHTEST00001", SecretAccessKey: "secret/+=", SessionToken: "tok+/=",
		Expiration: exp.UTC().Truncate(time.Second), AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/Admin/s", AssumedRoleID: "AROAX:s", RequestID: "r-1"}
}

func TestStoreLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := &Cache{Dir: dir}
	e := testEntry(time.Now().Add(time.Hour))
	if err := c.Store("k", e); err != nil {
		t.Fatal(err)
	}
	got, why := c.Load("k", "arn:aws:iam::123456789012:role/Admin")
	if got == nil {
		t.Fatalf("not loaded: %s", why)
	}
	if *got != (Entry{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken, Expiration: e.Expiration, AssumedRoleARN: e.AssumedRoleARN, AssumedRoleID: e.AssumedRoleID}) {
		t.Errorf("loaded %+v, stored %+v", got, e)
	}
	st, _ := os.Stat(c.Path("k"))
	dst, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("modes file %v dir %v, want 0600 in 0700", st.Mode().Perm(), dst.Mode().Perm())
	}
	// another role's entry under this key is not used
	if got, _ := c.Load("k", "arn:aws:iam::123456789012:role/Other"); got != nil {
		t.Error("entry of role Admin used for role Other")
	}
	if got, _ := c.Load("k", "arn:aws:iam::999999999999:role/Admin"); got != nil {
		t.Error("entry of account 1234… used for account 9999…")
	}
}

func TestLoadRefusesStaleCorruptAndForeign(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	if err := c.Store("stale", testEntry(time.Now().Add(ReuseWindow-time.Second))); err != nil {
		t.Fatal(err)
	}
	if e, why := c.Load("stale", ""); e != nil || !strings.Contains(why, "expires") {
		t.Errorf("stale entry: %v %q", e, why)
	}
	if err := c.Store("fresh", testEntry(time.Now().Add(ReuseWindow+time.Minute))); err != nil {
		t.Fatal(err)
	}
	if e, why := c.Load("fresh", ""); e == nil {
		t.Errorf("fresh entry refused: %s", why)
	}
	write := func(name, data string, mode os.FileMode) {
		if err := os.WriteFile(c.Path(name), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(c.Path(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := testEntry(time.Now().Add(time.Hour)).Marshal()
	write("corrupt", `{"Credentials": {"AccessKeyId": "ASIA`, 0o600)
	write("trailing", string(good)+"{}", 0o600)
	write("noexp", `{"Credentials": {"AccessKeyId": "ASIAJITSSHTEST00001", "SecretAccessKey": "s", "SessionToken": "t"}}`, 0o600)
	write("spaces", `{"Credentials": {"AccessKeyId": "ASIAJITSSHTEST00001", "SecretAccessKey": "s s", "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}}`, 0o600)
	write("writable", string(good), 0o666)
	if err := os.Symlink(c.Path("fresh"), c.Path("link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(c.Path("dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"corrupt", "trailing", "noexp", "spaces", "writable", "link", "dir", "missing"} {
		if e, why := c.Load(k, ""); e != nil {
			t.Errorf("%s: used (%s)", k, why)
		} else {
			t.Logf("%s: %s", k, why)
		}
	}
}

// TestParseCLIv1Entry: the file the AWS CLI v1 writes (Expiration as
// strftime's "…UTC").
func TestParseCLIv1Entry(t *testing.T) {
	const f = `{"Credentials": {"AccessKeyId": "ASIAJITSSHTEST00001", "SecretAccessKey": "abc", "SessionToken": "def", "Expiration": "2026-12-02T13:04:05UTC", "AccountId": "123456789012"}, "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::123456789012:assumed-role/Admin/x"}, "ResponseMetadata": {"RequestId": "x", "HTTPStatusCode": 200, "HTTPHeaders": {"date": "Wed"}, "RetryAttempts": 0}}`
	e, err := ParseEntry([]byte(f))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 2, 13, 4, 5, 0, time.UTC); !e.Expiration.Equal(want) {
		t.Errorf("expiration %v, want %v", e.Expiration, want)
	}
	for _, exp := range []string{"2026-12-02T13:04:05+00:00", "2026-12-02T13:04:05Z", "2026-12-02T14:04:05+01:00"} {
		e, err := ParseEntry([]byte(strings.Replace(f, "2026-12-02T13:04:05UTC", exp, 1)))
		if err != nil || !e.Expiration.Equal(time.Date(2026, 12, 2, 13, 4, 5, 0, time.UTC)) {
			t.Errorf("%s: %v %v", exp, e, err)
		}
	}
	if _, err := ParseEntry([]byte(strings.Replace(f, "13:04:05UTC", "13:04:05CET", 1))); err == nil {
		t.Error("an expiration in a named zone other than UTC was accepted")
	}
}

func TestValidCode(t *testing.T) {
	for s, ok := range map[string]bool{"123456": true, " 123456\n": true, "12345": false, "1234567": false, "12345a": false, "１２３４５６": false, "": false} {
		if _, got := ValidCode(s); got != ok {
			t.Errorf("ValidCode(%q) = %v", s, got)
		}
	}
}

// ptyPrompter is a TTYPrompter on a pty's terminal side, and the pty's
// controller side to type on.
func ptyPrompter(t *testing.T, timeout time.Duration) (TTYPrompter, *os.File) {
	t.Helper()
	ctl, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close(); tty.Close() })
	return TTYPrompter{Path: tty.Name(), Timeout: timeout}, ctl
}

// readUntil reads from the pty until s has appeared.
func readUntil(t *testing.T, f *os.File, s string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 512)
	deadline := time.Now().Add(10 * time.Second)
	_ = f.SetReadDeadline(deadline)
	for !strings.Contains(string(got), s) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; got %q", s, err, got)
		}
	}
	return string(got)
}

func TestTTYPromptReasksOnMalformedCode(t *testing.T) {
	p, ctl := ptyPrompter(t, 10*time.Second)
	type res struct {
		code string
		err  error
	}
	done := make(chan res, 1)
	go func() { c, err := p.Code("mfa", "arn:aws:iam::123456789012:mfa/carol"); done <- res{c, err} }()
	readUntil(t, ctl, "MFA code for arn:aws:iam::123456789012:mfa/carol (profile mfa): ")
	ctl.WriteString("12ab56\n")
	readUntil(t, ctl, "6 digits")
	ctl.WriteString(" 654321 \n")
	r := <-done
	if r.err != nil || r.code != "654321" {
		t.Fatalf("code %q, err %v", r.code, r.err)
	}
}

func TestTTYPromptGivesUp(t *testing.T) {
	p, ctl := ptyPrompter(t, 10*time.Second)
	done := make(chan error, 1)
	go func() { _, err := p.Code("mfa", "SERIAL"); done <- err }()
	for i := 0; i < PromptAttempts; i++ {
		readUntil(t, ctl, "(profile mfa): ")
		ctl.WriteString("x\n")
	}
	var pe *PromptError
	if err := <-done; !errors.As(err, &pe) || !strings.Contains(err.Error(), "3 answers") {
		t.Fatalf("err %v", err)
	}
}

func TestTTYPromptTimesOut(t *testing.T) {
	p, ctl := ptyPrompter(t, 300*time.Millisecond)
	_ = ctl
	start := time.Now()
	_, err := p.Code("mfa", "SERIAL")
	var pe *PromptError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestNoTerminal(t *testing.T) {
	p := TTYPrompter{Path: filepath.Join(t.TempDir(), "no-tty")}
	_, err := p.Code("mfa", "SERIAL")
	var nt *NoTerminalError
	if !errors.As(err, &nt) || err.Error() != `profile "mfa" needs an MFA code and there is no terminal` {
		t.Fatalf("err %v", err)
	}
}

// countingPrompter counts prompts and answers after a pause (a user
// typing).
type countingPrompter struct{ n atomic.Int32 }

func (p *countingPrompter) Code(_, _ string) (string, error) {
	p.n.Add(1)
	time.Sleep(200 * time.Millisecond)
	return "123456", nil
}

// TestConcurrentAssumePromptsOnce: ten processes' worth of Assumers
// (separate lock file descriptors: flock locks per open file) on one
// cache prompt once and call AWS once.
func TestConcurrentAssumePromptsOnce(t *testing.T) {
	dir := t.TempDir()
	prompter := &countingPrompter{}
	var calls atomic.Int32
	args := RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin", SerialNumber: "arn:aws:iam::123456789012:mfa/carol"}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &Assumer{Profile: "mfa", Cache: &Cache{Dir: dir}, Prompter: prompter}
			e, err := a.Assume(context.Background(), args, func(_ context.Context, code string) (*Entry, error) {
				calls.Add(1)
				if code != "123456" {
					t.Errorf("code %q", code)
				}
				return testEntry(time.Now().Add(time.Hour)), nil
			})
			if err == nil && e.AccessKeyID != "ASIAJITSSHTEST00001" {
				t.Errorf("entry %+v", e)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if prompter.n.Load() != 1 || calls.Load() != 1 {
		t.Errorf("%d prompts, %d AssumeRole calls; want 1 and 1", prompter.n.Load(), calls.Load())
	}
}

func TestRefusedCallCachesNothing(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	args := RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin", SerialNumber: "S"}
	a := &Assumer{Profile: "mfa", Cache: c, Prompter: FixedCode("000000")}
	refusal := &AssumeRoleError{Profile: "mfa", RoleARN: args.RoleARN, Serial: "S", Code: "AccessDenied", Message: "MultiFactorAuthentication failed with invalid MFA one time pass code. "}
	_, err := a.Assume(context.Background(), args, func(context.Context, string) (*Entry, error) { return nil, refusal })
	var ae *AssumeRoleError
	if !errors.As(err, &ae) || !ae.MFARejected() {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(c.Path(args.CacheKey())); !os.IsNotExist(err) {
		t.Errorf("cache entry after a refusal: %v", err)
	}
}

func TestLockWaitIsBounded(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	unlock, err := c.lock(context.Background(), "k", "mfa", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = c.lock(context.Background(), "k", "mfa", 200*time.Millisecond)
	var lt *LockTimeoutError
	if !errors.As(err, &lt) || !strings.Contains(err.Error(), "another jitssh asking for the MFA code") {
		t.Fatalf("err %v", err)
	}
}

// TestUnusableCacheDirStillAssumes: a cache directory that cannot be
// made (a file in its place) costs the cache, with a warning, not the
// credentials.
func TestUnusableCacheDirStillAssumes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cache")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var warned []string
	a := &Assumer{Profile: "mfa", Cache: &Cache{Dir: file}, Prompter: FixedCode("123456"), Warn: func(m string) { warned = append(warned, m) }}
	e, err := a.Assume(context.Background(), RoleArgs{RoleARN: "arn:aws:iam::1:role/R", SerialNumber: "S"}, func(context.Context, string) (*Entry, error) {
		return testEntry(time.Now().Add(time.Hour)), nil
	})
	if err != nil || e == nil || len(warned) != 1 || !strings.Contains(warned[0], "not cached") {
		t.Fatalf("entry %v, err %v, warnings %q", e, err, warned)
	}
}

// promptFails is a Prompter that must not be asked.
type promptFails struct{ t *testing.T }

func (p promptFails) Code(profile, serial string) (string, error) {
	p.t.Errorf("asked for the code of %s (profile %s) under WithoutPrompt", serial, profile)
	return "", errors.New("asked")
}

// TestWithoutPromptMidSession: under WithoutPrompt (resuming a session
// while ssh holds the terminal) a role that needs an MFA code is not
// asked for one: the call fails with a mid-session NoTerminalError, and
// calls nothing; a fresh cached entry, which needs no code, is still
// used, and a role without MFA is assumed as usual.
func TestWithoutPromptMidSession(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	args := RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Admin", SerialNumber: "arn:aws:iam::123456789012:mfa/carol"}
	a := &Assumer{Profile: "mfa", Cache: c, Prompter: promptFails{t}}
	ctx := WithoutPrompt(context.Background())
	called := 0
	call := func(context.Context, string) (*Entry, error) {
		called++
		return testEntry(time.Now().Add(time.Hour)), nil
	}
	_, err := a.Assume(ctx, args, call)
	var nt *NoTerminalError
	if !errors.As(err, &nt) || !nt.MidSession || !strings.Contains(err.Error(), "needs a new MFA code to go on") || called != 0 {
		t.Fatalf("err %v, %d calls", err, called)
	}
	if err := c.Store(args.CacheKey(), testEntry(time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if e, err := a.Assume(ctx, args, call); err != nil || e == nil || called != 0 {
		t.Fatalf("with a fresh cached entry: %v, %v, %d calls", e, err, called)
	}
	noMFA := RoleArgs{RoleARN: "arn:aws:iam::123456789012:role/Plain"}
	if e, err := a.Assume(ctx, noMFA, call); err != nil || e == nil || called != 1 {
		t.Fatalf("a role without MFA: %v, %v, %d calls", e, err, called)
	}
}
