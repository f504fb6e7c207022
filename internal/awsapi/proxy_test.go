package awsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestUnreachableProxyFailsFast: an API call through a proxy nothing
// listens at fails after one attempt, in well under a second, with a
// *ProxyError naming the proxy (password redacted) and HTTPS_PROXY; the
// SDK retried it for about 15 s. The call runs in a child process:
// net/http reads HTTPS_PROXY once per process.
func TestUnreachableProxyFailsFast(t *testing.T) {
	if os.Getenv("JITSSH_AWSAPI_PROXY_CHILD") == "1" {
		unreachableProxyChild()
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := "http://jit:s3cret@" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	name, args := os.Args[0], []string{"-test.run=^TestUnreachableProxyFailsFast$", "-test.v"}
	if w := os.Getenv("JITSSH_TEST_EXEC"); w != "" { // make test-arm64: this binary runs under qemu-user
		name, args = w, append([]string{os.Args[0]}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "JITSSH_AWSAPI_PROXY_CHILD=1", "HTTPS_PROXY="+proxy, "https_proxy=", "NO_PROXY=", "no_proxy=",
		// A host name no resolver is asked for: the proxy is dialled first.
		"AWS_ENDPOINT_URL=https://sts.jitssh.test", "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		"typed: true unreachable: true variable: HTTPS_PROXY proxy: http://jit:xxxxx@" + ln.Addr().String() + " target: sts.jitssh.test:443",
		"configuration: true",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if bytes.Contains(out, []byte("s3cret")) {
		t.Errorf("the proxy's password is in the error:\n%s", out)
	}
	var took time.Duration
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "took: "); ok {
			took, _ = time.ParseDuration(v)
		}
	}
	if took <= 0 || took > 2*time.Second {
		t.Fatalf("the call took %v (want one attempt, well under 2 s):\n%s", took, out)
	}
}

func unreachableProxyChild() {
	c, err := New(context.Background(), Options{Region: "us-east-1"})
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(1)
	}
	start := time.Now()
	_, err = c.CallerIdentity(context.Background())
	fmt.Println("took:", time.Since(start))
	fmt.Println("error:", err)
	var pe *ProxyError
	if errors.As(err, &pe) {
		fmt.Println("typed:", true, "unreachable:", pe.Unreachable(), "variable:", pe.Variable, "proxy:", pe.Proxy, "target:", pe.Target)
	}
	fmt.Println("configuration:", IsConfigurationError(err))
}

// TestProxyErrorsTyped: a refused CONNECT (proxyConnectResponse) and a
// 407 answer to a plain-HTTP request through a proxy are *ProxyErrors;
// a 407 from a server reached directly, and other errors, are left alone.
func TestProxyErrorsTyped(t *testing.T) {
	pu, _ := url.Parse("http://u:p@proxy.example:3128")
	connect := &http.Request{Method: http.MethodConnect, Host: "ssm.eu-west-1.amazonaws.com:443"}
	if err := proxyConnectResponse(context.Background(), pu, connect, &http.Response{StatusCode: 200, Status: "200 OK"}); err != nil {
		t.Fatalf("200: %v", err)
	}
	err := proxyConnectResponse(context.Background(), pu, connect, &http.Response{StatusCode: 403, Status: "403 Forbidden"})
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.Status != 403 || pe.Variable != "HTTPS_PROXY" || pe.Proxy != "http://u:xxxxx@proxy.example:3128" ||
		pe.Target != "ssm.eu-west-1.amazonaws.com:443" || !IsConfigurationError(err) {
		t.Fatalf("403 to CONNECT: %#v", err)
	}
	if got, want := err.Error(), "the proxy http://u:xxxxx@proxy.example:3128 refused the connection to ssm.eu-west-1.amazonaws.com:443: 403 Forbidden"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	answer := func(status int) aws407Client {
		return aws407Client{status: status}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://ec2.sandbox.test:8080/", nil)
	p := &proxyErrors{sdk: answer(407), proxy: http.ProxyURL(pu)}
	resp, err := p.Do(req)
	var ue *url.Error
	if resp != nil || !errors.As(err, &pe) || !errors.As(err, &ue) || pe.Status != 407 || pe.Variable != "HTTP_PROXY" || pe.Target != "ec2.sandbox.test:8080" {
		t.Fatalf("407 through a plain-HTTP proxy: %v, %#v", resp, err)
	}
	direct := &proxyErrors{sdk: answer(407), proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}
	if resp, err := direct.Do(req); err != nil || resp.StatusCode != 407 {
		t.Fatalf("407 from a server reached directly: %v, %v", resp, err)
	}
	other := &proxyErrors{sdk: failing{&url.Error{Op: "Post", URL: req.URL.String(), Err: errors.New("connection reset")}}, proxy: http.ProxyURL(pu)}
	if _, err := other.Do(req); errors.As(err, &pe) || IsConfigurationError(err) {
		t.Fatalf("a reset connection is a proxy error: %v", err)
	}
	unreachable := &proxyErrors{sdk: failing{&url.Error{Op: "Post", URL: req.URL.String(), Err: &net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("connection refused")}}}, proxy: http.ProxyURL(pu)}
	if _, err := unreachable.Do(req); !errors.As(err, &pe) || !pe.Unreachable() || !errors.As(err, &ue) {
		t.Fatalf("proxyconnect: %#v", err)
	}
}

type aws407Client struct{ status int }

func (c aws407Client) Do(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: c.status, Status: fmt.Sprintf("%d %s", c.status, http.StatusText(c.status)), Body: io.NopCloser(strings.NewReader(""))}, nil
}

type failing struct{ err error }

func (f failing) Do(*http.Request) (*http.Response, error) { return nil, f.err }
