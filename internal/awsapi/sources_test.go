package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// sourcesWorld is a sandbox account with one identity, answering on a
// loopback server; temporary credentials of it (with a session token, as
// these sources give) are handed to the SDK by each source below.
func sourcesWorld(t *testing.T) (world.Identity, string) {
	t.Helper()
	id := world.Identity{AccessKeyID: "AKIAJITSSHSOURCES901", SecretAccessKey: "secret-for-the-sources-test-0123456789",
		ARN: "arn:aws:sts::123456789012:assumed-role/Dev/dana", UserID: "AROA:dana",
		Policies: []policy.Document{policy.User(policy.Options{Region: "us-east-1", Account: "123456789012"})}}
	w, err := world.New(world.Config{Region: "us-east-1", Account: "123456789012", Identities: []world.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apis.NewHandler(w, apis.Options{}))
	t.Cleanup(srv.Close)
	testEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("HOME", t.TempDir())
	c := w.IssueSession(id, time.Hour)
	id.AccessKeyID, id.SecretAccessKey, id.SessionToken, id.Expiration = c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration
	return id, srv.URL
}

func wantCaller(t *testing.T, opts Options, arn string) {
	t.Helper()
	opts.Region = "us-east-1"
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := c.CallerIdentity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if caller.ARN != arn {
		t.Errorf("caller %s, want %s", caller.ARN, arn)
	}
}

// credsJSON is the credentials document of the container endpoint and
// IMDS (and, with Version, of credential_process).
func credsJSON(id world.Identity, extra map[string]any) []byte {
	m := map[string]any{"AccessKeyId": id.AccessKeyID, "SecretAccessKey": id.SecretAccessKey,
		"Expiration": id.Expiration.UTC().Format(time.RFC3339)}
	// container credentials and IMDS name the session token Token,
	// credential_process SessionToken
	if _, ok := extra["Version"]; ok {
		m["SessionToken"] = id.SessionToken
	} else {
		m["Token"] = id.SessionToken
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func TestCredentialProcessProfile(t *testing.T) {
	id, _ := sourcesWorld(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat <<'EOF'\n"+string(credsJSON(id, map[string]any{"Version": 1}))+"\nEOF\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile proc]\ncredential_process = "+script+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	wantCaller(t, Options{Profile: "proc"}, id.ARN)
}

func TestContainerCredentials(t *testing.T) {
	id, _ := sourcesWorld(t)
	const auth = "Bearer jitssh-container-test"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/credentials/jitssh" || r.Header.Get("Authorization") != auth {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Write(credsJSON(id, nil))
	}))
	defer srv.Close()
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v2/credentials/jitssh")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth)
	wantCaller(t, Options{}, id.ARN)
}

// testIMDS is an IMDSv2 serving an instance profile's credentials.
func testIMDS(t *testing.T, id world.Identity) *httptest.Server {
	const token = "jitssh-imds-token"
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "ttl", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
		fmt.Fprint(w, token)
	})
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-aws-ec2-metadata-token") != token {
				http.Error(w, "", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/", authed(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "jitssh-instance-role")
	}))
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/jitssh-instance-role", authed(func(w http.ResponseWriter, r *http.Request) {
		w.Write(credsJSON(id, map[string]any{"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339)}))
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInstanceMetadataCredentials(t *testing.T) {
	id, _ := sourcesWorld(t)
	imds := testIMDS(t, id)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	wantCaller(t, Options{}, id.ARN)
}
