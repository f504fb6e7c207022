package apis

import (
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// FuzzSessionTags: whatever the form, parseSessionTags either refuses it
// with an AWS error or returns tags that obey STS's rules.
func FuzzSessionTags(f *testing.F) {
	f.Add("Tags.member.1.Key=userName&Tags.member.1.Value=carol&TransitiveTagKeys.member.1=userName")
	f.Add("Tags.member.1.Key=a&Tags.member.2.Key=A")
	f.Add("Tags.member.0.Key=a")
	f.Add("Tags.member.1.Nope=a")
	f.Add("TransitiveTagKeys.member.1=x")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := awsproto.ParseForm("", []byte(body))
		if err != nil {
			return
		}
		st, err := parseSessionTags(form)
		if err != nil {
			if _, ok := err.(*awsproto.Error); !ok {
				t.Fatalf("error %T %v is not an AWS error", err, err)
			}
			return
		}
		if len(st.order) != len(st.tags) || len(st.order) > 50 {
			t.Fatalf("tags %v order %v", st.tags, st.order)
		}
		for i, k := range st.order {
			if k == "" || len([]rune(k)) > 128 || len([]rune(st.tags[k])) > 256 {
				t.Fatalf("tag %q=%q accepted", k, st.tags[k])
			}
			for _, o := range st.order[:i] {
				if strings.EqualFold(o, k) {
					t.Fatalf("duplicate keys %q %q accepted", o, k)
				}
			}
		}
		for _, tk := range st.transitive {
			found := false
			for _, k := range st.order {
				found = found || strings.EqualFold(k, tk)
			}
			if !found {
				t.Fatalf("transitive key %q is not a tag", tk)
			}
		}
		_ = st.packedPolicySize()
	})
}
