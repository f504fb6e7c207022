package target

import (
	"context"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Spec{
		"i-0123456789abcdef0":       {Kind: KindInstanceID, Value: "i-0123456789abcdef0"},
		"i-01234567":                {Kind: KindInstanceID, Value: "i-01234567"},
		"alice@i-0123456789abcdef0": {User: "alice", Kind: KindInstanceID, Value: "i-0123456789abcdef0"},
		"mi-0123456789abcdef0":      {Kind: KindManagedID, Value: "mi-0123456789abcdef0"},
		"web-1":                     {Kind: KindName, Value: "web-1"},
		"ec2-user@web-1":            {User: "ec2-user", Kind: KindName, Value: "web-1"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "i-0123XYZ", "a b", "-oProxyCommand=x", "root;rm@i-0123456789abcdef0", "@web", "web 1", "Alice@web-1", "../x@web"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

type fakeLookup map[string][]Instance

func (f fakeLookup) InstancesByID(_ context.Context, id string) ([]Instance, error) {
	return f[id], nil
}
func (f fakeLookup) InstancesByName(_ context.Context, n string) ([]Instance, error) {
	return f[n], nil
}

func TestResolveNeverPicksSilently(t *testing.T) {
	l := fakeLookup{
		"web": {{ID: "i-0000000000000000a", Name: "web", State: "running"}, {ID: "i-0000000000000000b", Name: "web", State: "running"}},
		"db":  {{ID: "i-0000000000000000c", Name: "db", State: "stopped"}},
	}
	_, err := Resolve(context.Background(), l, Spec{Kind: KindName, Value: "web"})
	if err == nil || !strings.Contains(err.Error(), "i-0000000000000000a") || !strings.Contains(err.Error(), "i-0000000000000000b") {
		t.Fatalf("ambiguous name: err = %v", err)
	}
	if _, err := Resolve(context.Background(), l, Spec{Kind: KindName, Value: "db"}); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("stopped: err = %v", err)
	}
	if _, err := Resolve(context.Background(), l, Spec{Kind: KindName, Value: "nope"}); err == nil {
		t.Fatal("unknown name resolved")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"i-0123456789abcdef0", "alice@web-1", "mi-0123456789abcdef0", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := Parse(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(sp.Value+sp.User, " \t\n\"'`$;%") || strings.HasPrefix(sp.Value, "-") {
			t.Fatalf("Parse(%q) accepted unsafe %+v", s, sp)
		}
	})
}
