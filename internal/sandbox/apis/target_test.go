package apis

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// TestUnsignedTargetRefused sends the sandbox's real API endpoint an SSM
// request whose signature does not cover X-Amz-Target (the header names the
// operation, so such a signature could be replayed as any operation): it is
// refused as AWS refuses an incomplete signature, and the same request with
// the target signed is served.
func TestUnsignedTargetRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testInstances())
	body := []byte(`{}`)
	send := func(signTarget bool) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if signTarget {
			req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeInstanceInformation")
		}
		awsproto.Sign(req, body, alice.AccessKeyID, alice.SecretAccessKey, testRegion, "ssm", time.Now())
		req.Header.Set("X-Amz-Target", "AmazonSSM.DescribeInstanceInformation")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send(false); code == 200 || !strings.Contains(b, "IncompleteSignature") || !strings.Contains(b, "X-Amz-Target") {
		t.Errorf("unsigned target: %d %s", code, b)
	}
	if code, b := send(true); code != 200 {
		t.Errorf("signed target: %d %s", code, b)
	}
}

// TestAWSCLISignsTarget: the real aws CLI signs X-Amz-Target (its debug
// log shows the SignedHeaders), so the rule above does not refuse it.
func TestAWSCLISignsTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the aws CLI")
	}
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	t.Parallel()
	e := newEnv(t, testInstances())
	_, stderr, code := awsCLI(t, e, alice, alice.SecretAccessKey, "--debug", "ssm", "describe-instance-information")
	if code != 0 {
		t.Fatalf("aws ssm describe-instance-information: exit %d\n%s", code, stderr)
	}
	m := regexp.MustCompile(`SignedHeaders=([a-z0-9;-]+)`).FindStringSubmatch(stderr)
	if m == nil || !strings.Contains(";"+m[1]+";", ";x-amz-target;") {
		t.Errorf("aws CLI SignedHeaders = %v, want x-amz-target among them", m)
	}
}
