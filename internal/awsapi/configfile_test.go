package awsapi

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

// configFileSample has what a real organisation's file holds: role
// chains (two deep, across the credentials file), an SSO session and a
// profile on it, services sections, duplicate sections, comments,
// sub-properties, odd spacing, a [profile default], and a section the SDK
// ignores.
const configFileSample = `# organisation profiles
[default]
region = us-east-1

[profile base]
region = eu-west-1

[profile ops]
role_arn = arn:aws:iam::111111111111:role/Ops
source_profile = base ; the base account
region = us-west-2
services = local

[profile  deep]   # two hops
role_arn=arn:aws:iam::222222222222:role/Deep
source_profile=ops
duration_seconds = 900

[profile fromcreds]
role_arn = arn:aws:iam::333333333333:role/FromCreds
source_profile = credsonly

[profile dev]
sso_session = corp
sso_account_id = 444444444444
sso_role_name = Dev
s3 =
  max_concurrent_requests = 4

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[services local]
ec2 =
  endpoint_url = http://127.0.0.1:1

[profile ops]
external_id = dup-wins

[profile	tabbed]
region = ap-south-1

[profile default]
output = json

[notaprofile]
region = xx-none-1

[profile quoted]
role_arn = arn:aws:iam::555555555555:role/Quoted
source_profile = "base"
`

const credentialsSample = `[credsonly]
aws_access_key_id = AKIAEXAMPLE
aws_secret_access_key = secret

[base]
aws_access_key_id = AKIABASE
aws_secret_access_key = basesecret
`

// profiles are the names of the file's [profile NAME] sections (tests).
func (f *ConfigFile) profiles() []string {
	var out []string
	for _, s := range f.sections {
		if s.profile != "" && !slices.Contains(out, s.profile) {
			out = append(out, s.profile)
		}
	}
	return out
}

// sharedProfile is the profile as the SDK reads it from configFile.
func sharedProfile(t testing.TB, configFile, credsFile, profile string) (config.SharedConfig, error) {
	return config.LoadSharedConfigProfile(context.Background(), profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = []string{configFile}, []string{credsFile}
	})
}

// sameProfile fails unless the SDK reads profile from f's copy exactly as
// from the file (or cannot read it from the copy at all: New then reads
// the file).
func sameProfile(t testing.TB, dir string, f *ConfigFile, full, creds, profile string, mustLoad bool) {
	t.Helper()
	want, werr := sharedProfile(t, full, creds, profile)
	only := filepath.Join(dir, "only")
	if err := os.WriteFile(only, f.only(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	got, gerr := sharedProfile(t, only, creds, profile)
	if gerr != nil {
		if mustLoad {
			t.Errorf("profile %q: the copy does not load (%v); the file: %v", profile, gerr, werr)
		}
		return
	}
	if werr != nil {
		t.Errorf("profile %q loads from the copy but not from the file: %v", profile, werr)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("profile %q read from the copy:\n%+v\nfrom the file:\n%+v", profile, got, want)
	}
}

// TestConfigFileCopyReadsTheSame: for every profile of a varied file, the
// SDK reads from the profile's copy exactly what it reads from the whole
// file (role chains through the credentials file, SSO sessions, services,
// duplicates), and the copy leaves the other profiles out.
func TestConfigFileCopyReadsTheSame(t *testing.T) {
	dir := t.TempDir()
	full, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	os.WriteFile(full, []byte(configFileSample), 0o600)
	os.WriteFile(creds, []byte(credentialsSample), 0o600)
	f := parseConfigFile(configFileSample)
	want := []string{"base", "ops", "deep", "fromcreds", "dev", "tabbed", "default", "quoted"}
	if got := f.profiles(); !reflect.DeepEqual(got, want) {
		t.Fatalf("profiles %v, want %v", got, want)
	}
	for _, p := range append(want, "credsonly") {
		sameProfile(t, dir, f, full, creds, p, true)
	}
	deep := string(f.only("deep"))
	for _, in := range []string{"role/Deep", "role/Ops", "dup-wins", "eu-west-1", "sso-session corp", "services local", "notaprofile"} {
		if !strings.Contains(deep, in) {
			t.Errorf("deep's copy lacks %q:\n%s", in, deep)
		}
	}
	for _, out := range []string{"FromCreds", "Quoted", "ap-south-1", "444444444444", "output = json"} {
		if strings.Contains(deep, out) {
			t.Errorf("deep's copy holds %q (another profile's):\n%s", out, deep)
		}
	}
}

// TestLoadConfigFromTheCopy: New with a ConfigFile gives the same client
// settings as without, and a profile that is nowhere fails with the
// SDK's own error, not one about a copy.
func TestLoadConfigFromTheCopy(t *testing.T) {
	start := time.Now()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	full, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	os.WriteFile(full, []byte(configFileSample), 0o600)
	os.WriteFile(creds, []byte(credentialsSample), 0o600)
	t.Setenv("AWS_CONFIG_FILE", full)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	f := ReadConfigFile()
	if f == nil || f.Path != full {
		t.Fatalf("ReadConfigFile: %+v", f)
	}
	for _, p := range []string{"deep", "dev", "tabbed", "quoted"} {
		a, err := New(context.Background(), Options{Profile: p, Region: "us-east-1"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(context.Background(), Options{Profile: p, Region: "us-east-1", ConfigFile: f})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sharedConfigOf(a.cfg.ConfigSources), sharedConfigOf(b.cfg.ConfigSources)) || a.ssmMessages != b.ssmMessages {
			t.Errorf("profile %s: clients differ with the copy", p)
		}
	}
	_, err := New(context.Background(), Options{Profile: "nowhere", Region: "us-east-1", ConfigFile: f})
	if err == nil || strings.Contains(err.Error(), "jitssh-aws-config") {
		t.Errorf("a missing profile: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "jitssh-aws-config-*"))
	for _, l := range left {
		if st, err := os.Stat(l); err == nil && !st.ModTime().Before(start) {
			t.Errorf("copy left behind: %s", l)
		}
	}
}

// FuzzConfigFileOnly: whatever the file, a profile's copy that the SDK
// can read is read exactly as the whole file.
func FuzzConfigFileOnly(f *testing.F) {
	f.Add(configFileSample, "deep")
	f.Add("[profile a]\nsource_profile = b\n[profile b]\nregion = x\n", "a")
	f.Add("[profile a]\nsource_profile:b=c\n[profile b=c]\nregion = x\n", "a")
	f.Add("[ profile a ] ; c\nregion=1\n [profile a]\nregion=2\n", "a")
	f.Add("[profile a]\nrole_arn = r\nsource_profile = a\n", "a")
	f.Fuzz(func(t *testing.T, text, profile string) {
		if len(text) > 4096 || profile == "" || strings.ContainsAny(profile, "\n\r") {
			return
		}
		dir := t.TempDir()
		full, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
		os.WriteFile(full, []byte(text), 0o600)
		os.WriteFile(creds, []byte(credentialsSample), 0o600)
		sameProfile(t, dir, parseConfigFile(text), full, creds, profile, false)
	})
}
