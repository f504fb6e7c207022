package awsproto

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFormListsAndFilters(t *testing.T) {
	t.Parallel()
	body := "Action=DescribeInstances&Version=2016-11-15" +
		"&InstanceId.2=i-b&InstanceId.1=i-a&InstanceId.10=i-c" +
		"&Filter.2.Name=tag%3AName&Filter.2.Value.2=web%2A&Filter.2.Value.1=db" +
		"&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"
	v, err := ParseForm("", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := List(v, "InstanceId")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"i-a", "i-b", "i-c"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("List = %q, want %q", ids, want)
	}
	fs, err := Filters(v, "Filter")
	if err != nil {
		t.Fatal(err)
	}
	want := []Filter{{"instance-state-name", []string{"running"}}, {"tag:Name", []string{"db", "web*"}}}
	if !reflect.DeepEqual(fs, want) {
		t.Errorf("Filters = %+v, want %+v", fs, want)
	}
}

func TestParseFormRejects(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"Action=A&Action=B",
		"=x",
		"a=%zz",
		"%zz=a",
	} {
		if _, err := ParseForm("", []byte(body)); err == nil {
			t.Errorf("ParseForm(%q) succeeded", body)
		}
	}
	// The query string and the body share one namespace.
	if _, err := ParseForm("Action=A", []byte("Action=B")); err == nil {
		t.Error("parameter in both query and body accepted")
	}
	if _, err := ParseForm("", []byte(strings.Repeat("a=1&", 2)+strings.Repeat("x", 3))); err == nil {
		t.Error("duplicate a accepted")
	}
}

func TestListAndFiltersReject(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"InstanceId.0=i-a",
		"InstanceId.01=i-a",
		"InstanceId.x=i-a",
		"InstanceId.-1=i-a",
		"InstanceId.1.2=i-a",
	} {
		v, err := ParseForm("", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := List(v, "InstanceId"); err == nil {
			t.Errorf("List(%q) succeeded", body)
		}
	}
	for _, body := range []string{
		"Filter.1.Value.1=x",
		"Filter.1.Name=",
		"Filter.1=x",
		"Filter.1.Nam=x",
		"Filter.1.Name=a&Filter.1.Value.0=x",
		"Filter.1.Name=a&Filter.1.Value=x",
		"Filter.a.Name=a",
	} {
		v, err := ParseForm("", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Filters(v, "Filter")
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Filters(%q) = %v, want *Error", body, err)
		}
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("", "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0")
	f.Add("a=b", "Filter.1.Name=tag%3AName&Filter.1.Value.1=web*&Filter.1.Value.2=x%20y&MaxResults=5")
	f.Add("", "Filter.99999.Value.99999=&Filter.99999.Name=a")
	f.Add("%", "&&=&")
	f.Fuzz(func(t *testing.T, query, body string) {
		v, err := ParseForm(query, []byte(body))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != "MalformedQueryString" {
				t.Fatalf("error %v is not MalformedQueryString", err)
			}
			return
		}
		for k, vals := range v {
			if k == "" || len(vals) != 1 {
				t.Fatalf("bad parameter %q=%q", k, vals)
			}
		}
		if ids, err := List(v, "InstanceId"); err == nil {
			n := 0
			for k := range v {
				if strings.HasPrefix(k, "InstanceId.") {
					n++
				}
			}
			if len(ids) != n {
				t.Fatalf("List returned %d of %d values", len(ids), n)
			}
		}
		if fs, err := Filters(v, "Filter"); err == nil {
			for _, f := range fs {
				if f.Name == "" {
					t.Fatal("filter without name")
				}
			}
		}
	})
}
