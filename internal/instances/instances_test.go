package instances

import "testing"

func TestTagFilterAsksSSMOnlyForTagSearches(t *testing.T) {
	live := []string{"running"}
	for _, c := range []struct {
		ids     []string
		filters map[string][]string
		key     string
	}{
		{nil, map[string][]string{"tag:Name": {"web-1"}, "instance-state-name": live}, "tag:Name"},
		{nil, map[string][]string{"tag:Team": {"pay*"}}, "tag:Team"},
		{[]string{"i-0a1b2c3d4e5f00001"}, nil, ""},
		{nil, map[string][]string{"private-ip-address": {"10.0.1.11"}, "instance-state-name": live}, ""},
		{nil, map[string][]string{"tag:A": {"1"}, "tag:B": {"2"}}, ""},
	} {
		key, _, ok := tagFilter(c.ids, c.filters)
		if key != c.key || ok != (c.key != "") {
			t.Errorf("tagFilter(%v, %v) = %q, %v; want %q", c.ids, c.filters, key, ok, c.key)
		}
	}
}
