package awsproto

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxQueryParams bounds the number of parameters in one query request.
const MaxQueryParams = 5000

// ParseForm parses a query-protocol request: the URL query and the
// application/x-www-form-urlencoded body together. It is stricter than
// url.ParseQuery: a parameter may appear only once, names must be
// non-empty, and at most MaxQueryParams are accepted. Errors are *Error
// with code MalformedQueryString.
func ParseForm(rawQuery string, body []byte) (url.Values, error) {
	out := url.Values{}
	for _, src := range []string{rawQuery, string(body)} {
		if src == "" {
			continue
		}
		for part := range strings.SplitSeq(src, "&") {
			if part == "" {
				continue
			}
			k, v, _ := strings.Cut(part, "=")
			dk, err := url.QueryUnescape(k)
			if err != nil {
				return nil, malformed("parameter name %q is not validly escaped", k)
			}
			dv, err := url.QueryUnescape(v)
			if err != nil {
				return nil, malformed("value of parameter %s is not validly escaped", dk)
			}
			if dk == "" {
				return nil, malformed("empty parameter name")
			}
			if _, dup := out[dk]; dup {
				return nil, malformed("parameter %s appears more than once", dk)
			}
			if len(out) == MaxQueryParams {
				return nil, malformed("more than %d parameters", MaxQueryParams)
			}
			out[dk] = []string{dv}
		}
	}
	return out, nil
}

func malformed(format string, args ...any) *Error {
	return &Error{Code: "MalformedQueryString", Message: fmt.Sprintf(format, args...)}
}

// parseIndex parses a list index: a decimal number 1..99999 without a sign
// or leading zero.
func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// List returns the values of the flattened list prefix.1, prefix.2, … in
// index order (gaps are allowed, as on AWS). A key under "prefix." that is
// not "prefix.<index>" is an error.
func List(v url.Values, prefix string) ([]string, error) {
	type item struct {
		i int
		v string
	}
	var items []item
	for k, vals := range v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		i, ok := parseIndex(rest)
		if !ok {
			return nil, invalidParam(k)
		}
		items = append(items, item{i, vals[0]})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]string, len(items))
	for n, it := range items {
		out[n] = it.v
	}
	return out, nil
}

// Filter is one EC2 query filter: Filter.N.Name and Filter.N.Value.M.
type Filter struct {
	Name   string
	Values []string
}

// Filters returns the filters under prefix ("Filter") in index order, each
// with its values in index order. Every key under "prefix." must be
// "prefix.N.Name" or "prefix.N.Value.M"; a filter without a name is an
// error.
func Filters(v url.Values, prefix string) ([]Filter, error) {
	type value struct {
		i int
		v string
	}
	type filter struct {
		name    string
		hasName bool
		values  []value
	}
	byIndex := map[int]*filter{}
	for k, vals := range v {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		idx, field, ok := strings.Cut(rest, ".")
		if !ok {
			return nil, invalidParam(k)
		}
		n, ok := parseIndex(idx)
		if !ok {
			return nil, invalidParam(k)
		}
		f := byIndex[n]
		if f == nil {
			f = &filter{}
			byIndex[n] = f
		}
		switch {
		case field == "Name":
			f.name, f.hasName = vals[0], true
		case strings.HasPrefix(field, "Value."):
			m, ok := parseIndex(strings.TrimPrefix(field, "Value."))
			if !ok {
				return nil, invalidParam(k)
			}
			f.values = append(f.values, value{m, vals[0]})
		default:
			return nil, invalidParam(k)
		}
	}
	idxs := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idxs = append(idxs, n)
	}
	sort.Ints(idxs)
	out := make([]Filter, 0, len(idxs))
	for _, n := range idxs {
		f := byIndex[n]
		if !f.hasName || f.name == "" {
			return nil, &Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("The filter %s.%d has no Name", prefix, n)}
		}
		sort.Slice(f.values, func(a, b int) bool { return f.values[a].i < f.values[b].i })
		vals := make([]string, len(f.values))
		for i, fv := range f.values {
			vals[i] = fv.v
		}
		out = append(out, Filter{Name: f.name, Values: vals})
	}
	return out, nil
}

func invalidParam(k string) *Error {
	return &Error{Code: "UnknownParameter", Message: fmt.Sprintf("The parameter %s is not recognized", k)}
}
