package scope

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func grid(accounts, regions int) []Location {
	var out []Location
	for a := range accounts {
		for r := range regions {
			out = append(out, Location{Profile: fmt.Sprintf("p%d", a), Account: fmt.Sprintf("%012d", a), Region: fmt.Sprintf("eu-west-%d", r+1)})
		}
	}
	return out
}

// TestEachBounds: never more calls at once than the limits allow, in
// total, per account and per region, and every location is called.
func TestEachBounds(t *testing.T) {
	locs := grid(10, 4)
	lim := Limits{Total: 8, PerAccount: 2, PerRegion: 3}
	var (
		mu              sync.Mutex
		total, maxTotal int
		perAcc, perReg  = map[string]int{}, map[string]int{}
		maxAcc, maxReg  int
		called          atomic.Int32
	)
	fails := Each(context.Background(), locs, lim, func(ctx context.Context, l Location, _ func()) error {
		called.Add(1)
		mu.Lock()
		total++
		perAcc[l.Account]++
		perReg[l.Region]++
		maxTotal, maxAcc, maxReg = max(maxTotal, total), max(maxAcc, perAcc[l.Account]), max(maxReg, perReg[l.Region])
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		total--
		perAcc[l.Account]--
		perReg[l.Region]--
		mu.Unlock()
		return nil
	})
	if len(fails) != 0 || called.Load() != 40 {
		t.Fatalf("failures %v, called %d", fails, called.Load())
	}
	if maxTotal > 8 || maxAcc > 2 || maxReg > 3 || maxTotal < 2 {
		t.Errorf("at once: total %d, per account %d, per region %d", maxTotal, maxAcc, maxReg)
	}
}

// TestEachFailuresDoNotStopTheRest: one account failing everywhere and
// one region failing in every account are listed, sorted, and the others
// all ran.
func TestEachFailuresDoNotStopTheRest(t *testing.T) {
	locs := grid(3, 3)
	var ok atomic.Int32
	denied := errors.New("AccessDenied")
	fails := Each(context.Background(), locs, Limits{}, func(ctx context.Context, l Location, _ func()) error {
		if l.Account == "000000000001" || l.Region == "eu-west-3" {
			return denied
		}
		ok.Add(1)
		return nil
	})
	if ok.Load() != 4 || len(fails) != 5 {
		t.Fatalf("ok %d, failures %v", ok.Load(), fails)
	}
	if !errors.Is(fails[0], denied) || fails[0].Location.Account != "000000000000" || fails[0].Location.Region != "eu-west-3" {
		t.Errorf("first failure %+v", fails[0])
	}
	if !strings.Contains(fails[1].Error(), "account 000000000001, eu-west-1 (profile p1): AccessDenied") {
		t.Errorf("failure text %q", fails[1].Error())
	}
}

// TestEachStop: stop cancels the calls in flight (no failure for them)
// and skips those not started.
func TestEachStop(t *testing.T) {
	locs := grid(20, 4)
	var started atomic.Int32
	fails := Each(context.Background(), locs, Limits{Total: 4, PerAccount: 4, PerRegion: 4}, func(ctx context.Context, l Location, stop func()) error {
		if started.Add(1) == 1 { // the first call finds it
			stop()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
			return nil
		}
	})
	if len(fails) != 0 {
		t.Errorf("failures after stop: %v", fails)
	}
	if n := started.Load(); n > 4 {
		t.Errorf("%d of 80 started: more than the 4 running when it stopped", n)
	}
}

func TestMatchAndExpand(t *testing.T) {
	ps := []Profile{{Name: "default"}, {Name: "dev-a"}, {Name: "prod-a", Account: "111111111111"}, {Name: "prod-b"}}
	got := Expand(ps, []string{"prod-*", "dev-?", "prod-a", "other"})
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if want := []string{"dev-a", "prod-a", "prod-b", "other"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Expand = %v; want %v", names, want)
	}
	if Match("prod-*", "dev-prod-1") || !Match("*", "x") || Match("a?", "a") {
		t.Error("Match")
	}
}

func TestReadProfiles(t *testing.T) {
	dir := t.TempDir()
	conf, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	os.WriteFile(conf, []byte(`[default]
region = eu-west-1
[profile prod]
role_arn = arn:aws:iam::222222222222:role/Admin
source_profile = default
Region = us-east-1
[profile sso-dev]
sso_session = corp
sso_account_id = 333333333333
sso_role_name = ReadOnly
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
; comment
`), 0o600)
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = x\n[keys-only]\naws_access_key_id = y\n"), 0o600)
	ps, err := ReadProfiles(conf, creds)
	want := []Profile{{Name: "default", Region: "eu-west-1"}, {Name: "keys-only"}, {Name: "prod", Region: "us-east-1", Account: "222222222222"},
		{Name: "sso-dev", Account: "333333333333", SSOSession: "corp", SSORole: "ReadOnly"}}
	if err != nil || !reflect.DeepEqual(ps, want) {
		t.Fatalf("ReadProfiles = %+v, %v", ps, err)
	}
	if ps, err := ReadProfiles(filepath.Join(dir, "none"), filepath.Join(dir, "none2")); err != nil || len(ps) != 0 {
		t.Errorf("missing files: %v, %v", ps, err)
	}
}

func TestDescribe(t *testing.T) {
	if got := Describe(grid(3, 2)); got != "3 accounts, 2 regions" {
		t.Error(got)
	}
}
