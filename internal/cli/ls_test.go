package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/instances"
	"github.com/jitssh/jitssh/internal/policy"
	"github.com/jitssh/jitssh/internal/sandbox/apis"
	"github.com/jitssh/jitssh/internal/sandbox/knobs"
	"github.com/jitssh/jitssh/internal/sandbox/world"
	"github.com/jitssh/jitssh/internal/targets"
	"github.com/jitssh/jitssh/internal/textwidth"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
)

// sandboxClient serves the sandbox's AWS APIs over instances (on
// 127.0.0.1) and returns a real SDK client for them, for an identity with
// the jitssh user policy; the AWS_ environment is the test's alone.
func sandboxClient(t *testing.T, instances []world.Instance) (*awsapi.Client, *knobs.Table) {
	t.Helper()
	return sandboxClientWith(t, world.Config{Instances: instances}, policy.User(policy.Options{Region: testRegion, Account: testAccount}))
}

// sandboxClientWith is sandboxClient for the world cfg (its region,
// account and identities set here) and an identity with policies.
func sandboxClientWith(t *testing.T, cfg world.Config, policies ...policy.Document) (*awsapi.Client, *knobs.Table) {
	t.Helper()
	id := world.Identity{AccessKeyID: "AKIAJITSSHLSPROP0001", SecretAccessKey: "secret-for-the-ls-property-test-0123456",
		ARN: "arn:aws:sts::" + testAccount + ":assumed-role/JitsshDeveloper/lister", UserID: "AROALS:lister",
		Policies: policies}
	cfg.Region, cfg.Account, cfg.Identities = testRegion, testAccount, []world.Identity{id}
	w, err := world.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kt := &knobs.Table{}
	srv := httptest.NewServer(apis.NewHandler(w, apis.Options{Knobs: kt}))
	t.Cleanup(srv.Close)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": srv.URL, "AWS_ACCESS_KEY_ID": id.AccessKeyID, "AWS_SECRET_ACCESS_KEY": id.SecretAccessKey,
		"AWS_REGION": testRegion, "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	api, err := awsapi.New(context.Background(), awsapi.Options{MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return api, kt
}

// randomFleet is EC2 instances in every state and managed (mi-)
// instances, with names and tags drawn from small sets so that filters
// match some and not others.
func randomFleet(r *rand.Rand) []world.Instance {
	names := []string{"web-1", "web-2", "web-10", "db", "ウェブ", ""}
	tagKeys := []string{"Team", "Env"}
	tagValues := []string{"pay", "pay-2", "ops", "Pay"}
	states := []string{"running", "running", "stopped", "terminated"}
	tags := func() map[string]string {
		t := map[string]string{}
		if n := names[r.IntN(len(names))]; n != "" {
			t["Name"] = n
		}
		for _, k := range tagKeys {
			if r.IntN(2) == 0 {
				t[k] = tagValues[r.IntN(len(tagValues))]
			}
		}
		return t
	}
	launch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var fleet []world.Instance
	for i := range 4 + r.IntN(8) {
		in := world.Instance{ID: fmt.Sprintf("i-0a1b2c3d4e5f%05x", i+1), State: states[r.IntN(len(states))], AZ: "us-east-1a",
			PrivateIP: fmt.Sprintf("10.0.%d.%d", 1+i/200, 10+i%200), Tags: tags(), LaunchTime: launch, SSMOnline: r.IntN(2) == 0, Virtual: true}
		in.PrivateDNS = "ip-" + strings.ReplaceAll(in.PrivateIP, ".", "-") + ".ec2.internal"
		if in.State == "running" && r.IntN(2) == 0 {
			in.PublicIP = fmt.Sprintf("198.51.100.%d", 10+i)
			in.PublicDNS = "ec2-" + strings.ReplaceAll(in.PublicIP, ".", "-") + ".compute-1.amazonaws.com"
		}
		fleet = append(fleet, in)
	}
	for i := range 1 + r.IntN(3) {
		fleet = append(fleet, world.Instance{ID: fmt.Sprintf("mi-0a1b2c3d4e5f%05x", i+1), Managed: true, State: "running",
			PrivateIP: fmt.Sprintf("192.168.10.%d", 10+i), Tags: tags(), LaunchTime: launch, SSMOnline: true, Virtual: true})
	}
	return fleet
}

// pattern compiles an EC2 filter value (* and ?) into a regexp, apart
// from the sandbox's matcher.
func pattern(v string) *regexp.Regexp {
	q := regexp.QuoteMeta(v)
	q = strings.ReplaceAll(strings.ReplaceAll(q, `\*`, ".*"), `\?`, ".")
	return regexp.MustCompile("^" + q + "$")
}

// satisfies is the oracle: whether in matches the ls filter (the tag
// form, or text), and whether a managed instance is left out of the
// search by design (a wildcard tag value, which SSM cannot match).
func satisfies(in world.Instance, filter string) (match, unsearched bool) {
	if k, v, ok := strings.Cut(strings.TrimPrefix(filter, "tag:"), "="); ok && strings.HasPrefix(filter, "tag:") {
		if in.Managed && v != "*" && strings.ContainsAny(v, "*?") {
			return false, true
		}
		val, has := in.Tags[k]
		return has && pattern(v).MatchString(val), false
	}
	fields := []string{in.ID, in.Name(), in.PrivateIP}
	if !in.Managed {
		fields = append(fields, in.PublicIP, in.PrivateDNS, in.PublicDNS)
	}
	for _, f := range fields {
		if f != "" && strings.Contains(strings.ToLower(f), strings.ToLower(filter)) {
			return true, false
		}
	}
	return filter == "", false
}

// TestLsRowsSatisfyTheFilter is a property test over random fleets: every
// row `jitssh ls FILTER` lists satisfies FILTER, and every live instance
// that satisfies it is listed (managed instances under a wildcard tag
// value excepted, with a warning saying so), for EC2 and managed (mi-)
// instances alike.
func TestLsRowsSatisfyTheFilter(t *testing.T) {
	filters := []string{"", "tag:Team=pay", "tag:Team=*", "tag:Env=ops", "tag:Team=pa*", "tag:Team=pay-?", "tag:Name=web-1", "tag:Env=nobody",
		"web", "web-1", "ウェブ", "10.0.1", "ec2.internal", "198.51", "mi-", "i-0a1b2c3d4e5f00003", "nothing-matches"}
	for seed := range uint64(12) {
		r := rand.New(rand.NewPCG(seed, 11))
		fleet := randomFleet(r)
		api, _ := sandboxClient(t, fleet)
		for _, filter := range filters {
			rows, warnings, err := list(context.Background(), api, filter, false)
			if err != nil {
				t.Fatalf("seed %d: ls %q: %v", seed, filter, err)
			}
			var got, want []string
			for _, row := range rows {
				got = append(got, row.ID)
			}
			unsearched := false
			for _, in := range fleet {
				ok, skip := satisfies(in, filter)
				unsearched = unsearched || skip
				if ok && in.State != "terminated" {
					want = append(want, in.ID)
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: ls %q listed %v, want %v", seed, filter, got, want)
			}
			if unsearched != (len(warnings) > 0) {
				t.Errorf("seed %d: ls %q: warnings %v, want one only when managed instances are left unsearched (%v)", seed, filter, warnings, unsearched)
			}
		}
	}
}

// TestResolutionCandidatesSatisfyTheTarget is the same property for
// target resolution: the candidates of each target form are exactly the
// live instances it names, EC2 and managed.
func TestResolutionCandidatesSatisfyTheTarget(t *testing.T) {
	live := func(in world.Instance) bool { return in.State != "terminated" }
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 23))
		fleet := randomFleet(r)
		api, _ := sandboxClient(t, fleet)
		oracles := map[string]func(world.Instance) bool{
			"web-1":          func(in world.Instance) bool { return live(in) && in.Name() == "web-1" },
			"db":             func(in world.Instance) bool { return live(in) && in.Name() == "db" },
			"tag:Team=pay":   func(in world.Instance) bool { return live(in) && in.Tags["Team"] == "pay" },
			"tag:Team=*":     func(in world.Instance) bool { _, ok := in.Tags["Team"]; return live(in) && ok },
			"tag:Name=web-2": func(in world.Instance) bool { return live(in) && in.Name() == "web-2" },
		}
		for _, in := range fleet {
			in := in
			oracles[in.ID] = func(x world.Instance) bool { return x.ID == in.ID }
			if !in.Managed && live(in) {
				oracles[in.PrivateIP] = func(x world.Instance) bool {
					return live(x) && !x.Managed && (x.PrivateIP == in.PrivateIP || x.PublicIP == in.PrivateIP)
				}
				oracles[in.PrivateDNS] = func(x world.Instance) bool { return live(x) && !x.Managed && x.PrivateDNS == in.PrivateDNS }
			}
			if in.PublicIP != "" {
				oracles[in.PublicIP] = func(x world.Instance) bool {
					return live(x) && !x.Managed && (x.PublicIP == in.PublicIP || x.PrivateIP == in.PublicIP)
				}
				oracles[in.PublicDNS] = func(x world.Instance) bool { return live(x) && !x.Managed && x.PublicDNS == in.PublicDNS }
			}
		}
		for form, oracle := range oracles {
			sp, err := targets.Parse(form)
			if err != nil {
				t.Fatalf("parse %q: %v", form, err)
			}
			var warnings []error
			found, err := targets.Candidates(context.Background(), instances.Lookup{API: api, Warn: func(err error) { warnings = append(warnings, err) }}, sp)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("seed %d: candidates of %s: %v %v", seed, form, err, warnings)
			}
			var got, want []string
			for _, in := range found {
				got = append(got, in.ID)
			}
			for _, in := range fleet {
				if oracle(in) {
					want = append(want, in.ID)
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: %s (%s) found %v, want %v", seed, form, sp.Kind, got, want)
			}
		}
	}
}

// TestLsDegradesPerSource: with one source failing (HTTP 500 from the
// sandbox's fail knob, after the SDK's retries), ls lists what the others
// answered and says which source is missing and why; only EC2 and SSM's
// managed instances both failing is an error.
func TestLsDegradesPerSource(t *testing.T) {
	fleet := []world.Instance{
		{ID: "i-0a1b2c3d4e5f00001", State: "running", PrivateIP: "10.0.1.11", Tags: map[string]string{"Name": "web-1"}, SSMOnline: true, Virtual: true},
		{ID: "i-0a1b2c3d4e5f00002", State: "running", PrivateIP: "10.0.1.12", Tags: map[string]string{"Name": "web-2"}, Virtual: true},
		{ID: "mi-0a1b2c3d4e5f00001", Managed: true, State: "running", PrivateIP: "192.168.10.21", Tags: map[string]string{"Name": "onprem-1"}, SSMOnline: true, Virtual: true},
	}
	api, kt := sandboxClient(t, fleet)
	ls := func(filter string) (map[string]string, string, error) {
		rows, warnings, err := list(context.Background(), api, filter, false)
		got := map[string]string{}
		for _, r := range rows {
			got[r.ID] = r.SSM
		}
		return got, fmt.Sprint(warnings), err
	}

	kt.SetFail(map[string]string{"ssm:DescribeInstanceInformation": "100%"})
	got, warn, err := ls("")
	if err != nil {
		t.Fatalf("ls with SSM failing: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{"i-0a1b2c3d4e5f00001": "unknown", "i-0a1b2c3d4e5f00002": "unknown"}) {
		t.Errorf("ls with SSM failing = %v", got)
	}
	for _, w := range []string{"SSM managed (mi-) instances not searched", "SSM agent status unknown for 2 instances", "ssm:DescribeInstanceInformation", "InternalServerError"} {
		if !strings.Contains(warn, w) {
			t.Errorf("warnings lack %q: %s", w, warn)
		}
	}
	if got, warn, err := ls("tag:Name=onprem-1"); err != nil || len(got) != 0 || !strings.Contains(warn, "InternalServerError") {
		t.Errorf("ls tag:Name=onprem-1 with SSM failing: %v %v %s", got, err, warn)
	}

	kt.SetFail(map[string]string{"ec2:DescribeInstances": "100%"})
	got, warn, err = ls("")
	if err != nil || fmt.Sprint(got) != "map[mi-0a1b2c3d4e5f00001:Online]" || !strings.Contains(warn, "EC2 instances not searched") || !strings.Contains(warn, "ec2:DescribeInstances failed: InternalError") {
		t.Errorf("ls with EC2 failing: %v %v %s", got, err, warn)
	}

	kt.SetFail(map[string]string{"ec2:DescribeInstances": "100%", "ssm:*": "100%"})
	// one line: ls over a scope lists it indented under its location
	if _, _, err := ls(""); err == nil || !strings.Contains(err.Error(), "ec2:DescribeInstances") || !strings.Contains(err.Error(), "ssm:DescribeInstanceInformation") || strings.Contains(err.Error(), "\n") {
		t.Errorf("ls with EC2 and SSM failing: %q", err)
	}
}

// TestLsTableAlignsByDisplayWidth runs `jitssh ls` on Name tags in wide
// and combining characters: the ID column starts at the same terminal
// column on every line.
func TestLsTableAlignsByDisplayWidth(t *testing.T) {
	var fleet []world.Instance
	for i, name := range []string{"web-1", "ウェブ-2", "数据库", "cafe\u0301-4", "서버"} {
		fleet = append(fleet, world.Instance{ID: fmt.Sprintf("i-0a1b2c3d4e5f%05x", i+1), State: "running",
			PrivateIP: fmt.Sprintf("10.0.1.%d", 11+i), Tags: map[string]string{"Name": name}, Virtual: true})
	}
	sandboxClient(t, fleet)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	var out, errOut strings.Builder
	if code := Main(context.Background(), []string{"ls"}, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != 0 {
		t.Fatalf("jitssh ls: exit %d\n%s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != len(fleet)+1 {
		t.Fatalf("ls printed %d lines:\n%s", len(lines), out.String())
	}
	cols := map[int]bool{}
	for _, l := range lines[1:] {
		cols[textwidth.Width(l[:strings.Index(l, "i-0a1b")])] = true
	}
	if h := lines[0]; len(cols) != 1 || !cols[textwidth.Width(h[:strings.Index(h, " ID ")+1])] {
		t.Fatalf("the ID column starts at columns %v:\n%s", cols, out.String())
	}
}

// TestLsJSONEmptyIsAnArray: `jitssh ls -o json` matching nothing prints an
// empty array, not null, so `jq '.[]'` in the help's example works on it.
func TestLsJSONEmptyIsAnArray(t *testing.T) {
	sandboxClient(t, []world.Instance{{ID: "i-0a1b2c3d4e5f00001", State: "running", PrivateIP: "10.0.1.11", Tags: map[string]string{"Name": "web-1"}, Virtual: true}})
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "")
	var out, errOut strings.Builder
	if code := Main(context.Background(), []string{"ls", "--output", "json", "tag:Name=nothing"}, IOStreams{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != 0 {
		t.Fatalf("jitssh ls: exit %d\n%s", code, errOut.String())
	}
	if got := strings.TrimSpace(out.String()); got != "[]" {
		t.Errorf("ls --output json matching nothing printed %q, want []", got)
	}
}
