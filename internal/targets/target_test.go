package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/textwidth"
)

func TestParse(t *testing.T) {
	good := map[string]Spec{
		"i-0123456789abcdef0":                                   {Kind: KindInstanceID, Value: "i-0123456789abcdef0"},
		"i-01234567":                                            {Kind: KindInstanceID, Value: "i-01234567"},
		"alice@i-0123456789abcdef0":                             {User: "alice", Kind: KindInstanceID, Value: "i-0123456789abcdef0"},
		"i-0123456789abcdef0.us-west-2":                         {Kind: KindInstanceID, Value: "i-0123456789abcdef0", Region: "us-west-2"},
		"mi-0123456789abcdef0":                                  {Kind: KindManagedID, Value: "mi-0123456789abcdef0"},
		"web-1":                                                 {Kind: KindName, Value: "web-1"},
		"ec2-user@web-1":                                        {User: "ec2-user", Kind: KindName, Value: "web-1"},
		"ec2-user@web-1.eu-central-2":                           {User: "ec2-user", Kind: KindName, Value: "web-1", Region: "eu-central-2"},
		"web.prod.example.com":                                  {Kind: KindName, Value: "web.prod.example.com"},
		"db-1.us-gov-west-1":                                    {Kind: KindName, Value: "db-1", Region: "us-gov-west-1"},
		"tag:Team=payments":                                     {Kind: KindTag, TagKey: "Team", Value: "payments"},
		"tag:Owner=alice@example.com":                           {Kind: KindTag, TagKey: "Owner", Value: "alice@example.com"},
		"bob@tag:Role=web server":                               {User: "bob", Kind: KindTag, TagKey: "Role", Value: "web server"},
		"tag:Name=api.eu-west-1":                                {Kind: KindTag, TagKey: "Name", Value: "api.eu-west-1"},
		"10.0.1.11":                                             {Kind: KindIP, Value: "10.0.1.11"},
		"root@198.51.100.11.ap-southeast-4":                     {User: "root", Kind: KindIP, Value: "198.51.100.11", Region: "ap-southeast-4"},
		"ip-10-0-1-11.ec2.internal":                             {Kind: KindPrivateDNS, Value: "ip-10-0-1-11.ec2.internal", Region: "us-east-1"},
		"ip-10-0-1-11.eu-west-1.compute.internal":               {Kind: KindPrivateDNS, Value: "ip-10-0-1-11.eu-west-1.compute.internal", Region: "eu-west-1"},
		"i-0123456789abcdef0.us-west-2.compute.internal":        {Kind: KindPrivateDNS, Value: "i-0123456789abcdef0.us-west-2.compute.internal", Region: "us-west-2"},
		"ec2-198-51-100-11.compute-1.amazonaws.com":             {Kind: KindPublicDNS, Value: "ec2-198-51-100-11.compute-1.amazonaws.com", Region: "us-east-1"},
		"ec2-1-2-3-4.us-west-2.compute.amazonaws.com":           {Kind: KindPublicDNS, Value: "ec2-1-2-3-4.us-west-2.compute.amazonaws.com", Region: "us-west-2"},
		"ec2-1-2-3-4.us-west-2.compute.amazonaws.com.us-west-2": {Kind: KindPublicDNS, Value: "ec2-1-2-3-4.us-west-2.compute.amazonaws.com", Region: "us-west-2"},
		// .REGION.ACCOUNT pins the account (docs/scopes.md)
		"alice@web-1.eu-west-1.123456789012":               {User: "alice", Kind: KindName, Value: "web-1", Region: "eu-west-1", Account: "123456789012"},
		"i-0123456789abcdef0.us-west-2.000000000001":       {Kind: KindInstanceID, Value: "i-0123456789abcdef0", Region: "us-west-2", Account: "000000000001"},
		"10.0.1.11.eu-west-1.123456789012":                 {Kind: KindIP, Value: "10.0.1.11", Region: "eu-west-1", Account: "123456789012"},
		"ip-10-0-1-11.ec2.internal.us-east-1.123456789012": {Kind: KindPrivateDNS, Value: "ip-10-0-1-11.ec2.internal", Region: "us-east-1", Account: "123456789012"},
		"web.eu-west-1.eu-west-1.123456789012":             {Kind: KindName, Value: "web.eu-west-1", Region: "eu-west-1", Account: "123456789012"},
		// what stays as before: an account needs its region; 12 digits
		// must be the last label; tags take their value verbatim
		"build.202401011200":                  {Kind: KindName, Value: "build.202401011200"},
		"web.123456789012.eu-west-1":          {Kind: KindName, Value: "web.123456789012", Region: "eu-west-1"},
		"web.eu-west-1.1234567890123":         {Kind: KindName, Value: "web.eu-west-1.1234567890123"},
		"tag:Name=web.eu-west-1.123456789012": {Kind: KindTag, TagKey: "Name", Value: "web.eu-west-1.123456789012"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "i-0123XYZ", "a b", "-oProxyCommand=x", "root;rm@i-0123456789abcdef0", "@web", "web 1", "Alice@web-1",
		"../x@web", "mi-0123", "tag:", "tag:=x", "tag:K=", "tag:K", "tag:aws:cloudformation:stack-name=x", "tag:K=a;b",
		"10.0.1", "10.0.1.256", "2001:db8::1", "010.0.1.11", ".us-east-1", "alice@.us-east-1",
		"ip-10-0-1-11.ec2.internal.us-west-2", // the DNS name says us-east-1
		"web\n1", "wéb", "web$(id)",
		".eu-west-1.123456789012", "alice@.eu-west-1.123456789012", "10.0.1.11.123456789012", // no target; an IP octet of 12 digits
		"ip-10-0-1-11.ec2.internal.us-west-2.123456789012", // the DNS name says us-east-1
	} {
		if sp, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted: %+v", bad, sp)
		}
	}
}

// fakeLookup evaluates the filters Candidates sends (exact values only).
type fakeLookup struct {
	ec2     []Instance
	tags    map[string]map[string]string
	managed []Instance
	ssm     map[string]string
	calls   []string
}

func (f *fakeLookup) Find(_ context.Context, ids []string, filters map[string][]string) ([]Instance, error) {
	var out []Instance
	for _, in := range f.ec2 {
		if len(ids) > 0 && in.ID != ids[0] {
			continue
		}
		ok := true
		for k, vals := range filters {
			var have string
			switch {
			case k == "instance-state-name":
				have = in.State
			case k == "private-ip-address":
				have = in.PrivateIP
			case k == "ip-address":
				have = in.PublicIP
			case strings.HasPrefix(k, "tag:"):
				have = f.tags[in.ID][strings.TrimPrefix(k, "tag:")]
			case k == "private-dns-name", k == "dns-name":
				have = f.tags[in.ID][k]
			}
			match := false
			for _, v := range vals {
				match = match || v == have
			}
			ok = ok && match
		}
		if ok {
			out = append(out, in)
		}
	}
	return out, nil
}

func (f *fakeLookup) Managed(_ context.Context, id string) ([]Instance, error) {
	for _, m := range f.managed {
		if m.ID == id {
			return []Instance{m}, nil
		}
	}
	return nil, nil
}

func (f *fakeLookup) SSMStatus(_ context.Context, ids []string) (map[string]string, error) {
	f.calls = append(f.calls, "ssm:"+strings.Join(ids, ","))
	return f.ssm, nil
}

func fleet() *fakeLookup {
	return &fakeLookup{
		ec2: []Instance{
			{ID: "i-0000000000000000a", Name: "web", State: "running", PrivateIP: "10.0.0.1", PublicIP: "1.2.3.4"},
			{ID: "i-0000000000000000b", Name: "web", State: "running", PrivateIP: "10.0.0.2"},
			{ID: "i-0000000000000000c", Name: "db", State: "stopped", PrivateIP: "10.0.0.3"},
			{ID: "i-0000000000000000d", Name: "odd", State: "running", PrivateIP: "10.0.0.9", PublicIP: "10.0.0.1"},
		},
		tags: map[string]map[string]string{
			"i-0000000000000000a": {"Name": "web", "Team": "pay", "private-dns-name": "ip-10-0-0-1.ec2.internal"},
			"i-0000000000000000b": {"Name": "web", "Team": "ops"},
			"i-0000000000000000c": {"Name": "db"},
			"i-0000000000000000d": {"Name": "odd"},
		},
		managed: []Instance{{ID: "mi-0123456789abcdef0", State: "running", Managed: true}},
		ssm:     map[string]string{"i-0000000000000000a": "Online", "i-0000000000000000b": "ConnectionLost"},
	}
}

func resolve(t *testing.T, l Lookup, s string, c Chooser) (Instance, error) {
	t.Helper()
	sp, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return Resolve(context.Background(), l, sp, c)
}

func TestResolveForms(t *testing.T) {
	l := fleet()
	for in, want := range map[string]string{
		"i-0000000000000000a":      "i-0000000000000000a",
		"tag:Team=pay":             "i-0000000000000000a",
		"ip-10-0-0-1.ec2.internal": "i-0000000000000000a",
		"10.0.0.2":                 "i-0000000000000000b",
		"mi-0123456789abcdef0":     "mi-0123456789abcdef0",
		"odd":                      "i-0000000000000000d",
	} {
		got, err := resolve(t, l, in, nil)
		if err != nil || got.ID != want {
			t.Errorf("Resolve(%s) = %s, %v; want %s", in, got.ID, err, want)
		}
	}
}

func TestResolveNeverPicksSilently(t *testing.T) {
	l := fleet()
	_, err := resolve(t, l, "web", nil)
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Matches) != 2 {
		t.Fatalf("ambiguous name: err = %v", err)
	}
	for _, want := range []string{"i-0000000000000000a", "i-0000000000000000b", "Online", "ConnectionLost", "STATE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ambiguity error lacks %q:\n%v", want, err)
		}
	}
	// 10.0.0.1 is one instance's private and another's public address.
	if _, err := resolve(t, l, "10.0.0.1", nil); !errors.As(err, &amb) || len(amb.Matches) != 2 {
		t.Errorf("IP matching private and public: err = %v", err)
	}
	// A chooser decides; its answer is used, and a refusal is an error.
	got, err := resolve(t, l, "web", func(_ context.Context, _ Spec, m []Instance) (Instance, error) { return m[1], nil })
	if err != nil || got.ID != "i-0000000000000000b" {
		t.Errorf("chosen = %s, %v", got.ID, err)
	}
	if _, err := resolve(t, l, "web", func(context.Context, Spec, []Instance) (Instance, error) {
		return Instance{}, errors.New("cancelled")
	}); err == nil {
		t.Error("declined choice resolved")
	}
	if _, err := resolve(t, l, "db", nil); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("stopped: err = %v", err)
	}
	for _, s := range []string{"nope", "i-0000000000000000f", "mi-0123456789abcdef1", "tag:Team=none", "10.9.9.9"} {
		if _, err := resolve(t, l, s, nil); err == nil || !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "no instance") {
			t.Errorf("unknown %s: err = %v", s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"i-0123456789abcdef0", "alice@web-1", "mi-0123456789abcdef0", "a@b@c", "tag:K=v w", "10.0.0.1.us-east-1", "ip-1-2-3-4.ec2.internal", "web.eu-west-1", "alice@web-1.eu-west-1.123456789012", "10.0.0.1.us-east-1.000000000001", "web.123456789012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(sp.Value+sp.User+sp.TagKey+sp.Region, "\t\n\"'`$;%\\|&<>(){}!#") || strings.HasPrefix(sp.Value, "-") || strings.HasPrefix(sp.User, "-") {
			t.Fatalf("Parse(%q) accepted unsafe %+v", s, sp)
		}
		if sp.Kind != KindTag && strings.Contains(sp.Value, " ") {
			t.Fatalf("Parse(%q): space in %+v", s, sp)
		}
		if sp.Region != "" && !ValidRegion(sp.Region) {
			t.Fatalf("Parse(%q): region %q", s, sp.Region)
		}
		if sp.Value == "" {
			t.Fatalf("Parse(%q): empty value", s)
		}
		if sp.Account != "" && (!ValidAccount(sp.Account) || sp.Region == "" || !strings.HasSuffix(s, "."+sp.Region+"."+sp.Account)) {
			t.Fatalf("Parse(%q): account %q without its region suffix %+v", s, sp.Account, sp)
		}
		if sp.Account == "" && strings.Count(s, ".") > 0 {
			// No account pinned: the last label is not 12 digits after a region.
			if _, _, _, ok := cutAccount(s[strings.IndexByte(s, '@')+1:]); ok && !strings.HasPrefix(s[strings.IndexByte(s, '@')+1:], "tag:") {
				t.Fatalf("Parse(%q): account suffix not taken: %+v", s, sp)
			}
		}
		if sp.User != "" && ValidUser(sp.User) != nil {
			t.Fatalf("Parse(%q): user %q", s, sp.User)
		}
		// Round trip: what Parse accepted, re-rendered, parses the same.
		again := sp.String()
		if sp.Region != "" && sp.Kind != KindTag && sp.Kind != KindPrivateDNS && sp.Kind != KindPublicDNS {
			again += "." + sp.Region
		}
		if sp.Account != "" && sp.Kind != KindPrivateDNS && sp.Kind != KindPublicDNS {
			again += "." + sp.Account
		}
		if sp.User != "" {
			again = sp.User + "@" + again
		}
		sp2, err := Parse(again)
		if err != nil || (sp2 != sp && sp.Kind != KindPrivateDNS && sp.Kind != KindPublicDNS) {
			t.Fatalf("Parse(%q) = %+v; re-parse of %q = %+v, %v", s, sp, again, sp2, err)
		}
	})
}

// TestTablePadsByDisplayWidth: the ID column starts at the same terminal
// column on every line, whatever the Name tags are written in.
func TestTablePadsByDisplayWidth(t *testing.T) {
	names := []string{"web-1", "ウェブ-2", "数据库", "cafe\u0301", "Ålesund-東京", "서버-3"}
	var in []Instance
	for i, n := range names {
		in = append(in, Instance{ID: fmt.Sprintf("i-0a1b2c3d4e5f0000%d", i), Name: n, State: "running"})
	}
	lines := strings.Split(strings.TrimRight(Table(in, "  "), "\n"), "\n")
	if len(lines) != len(names)+1 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	col := -1
	for _, l := range lines {
		i := strings.Index(l, "i-0a1b")
		if strings.HasPrefix(strings.TrimSpace(l), "STATE") {
			i = strings.Index(l, "ID")
		}
		c := textwidth.Width(l[:i])
		if col == -1 {
			col = c
		}
		if c != col {
			t.Errorf("the ID column starts at column %d, want %d:\n%s", c, col, strings.Join(lines, "\n"))
		}
	}
}

func TestTableShowsNoControlCharacters(t *testing.T) {
	out := Table([]Instance{{ID: "i-0a1b2c3d4e5f00001", Name: "evil\x1b]0;pwned\x07\x9b2J"}}, "")
	if strings.ContainsAny(out, "\x1b\x07\u009b") {
		t.Fatalf("a control character reached the table: %q", out)
	}
}
