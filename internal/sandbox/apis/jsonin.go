package apis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
)

// jsonObject is a decoded AWS JSON 1.1 request body. Member names are
// matched exactly (AWS is case-sensitive; encoding/json into structs is
// not), and a member of the wrong JSON type is a SerializationException,
// as on AWS.
type jsonObject map[string]json.RawMessage

func serializationError(format string, args ...any) *awsproto.Error {
	return &awsproto.Error{Code: "SerializationException", Message: fmt.Sprintf(format, args...)}
}

// parseJSONObject decodes body as one JSON object; an empty body is {}.
func parseJSONObject(body []byte) (jsonObject, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return jsonObject{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var o jsonObject
	if err := dec.Decode(&o); err != nil || o == nil {
		return nil, serializationError("Request body is not a JSON object.")
	}
	if dec.More() {
		return nil, serializationError("Unexpected data after the JSON object.")
	}
	return o, nil
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(bytes.TrimSpace(raw)) == "null" }

// str returns member name as a string; nil when absent or null.
func (o jsonObject) str(name string) (*string, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, serializationError("Expected a string for %s.", name)
	}
	return &s, nil
}

// int returns member name as an integer; nil when absent or null.
func (o jsonObject) int(name string) (*int64, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 32)
	if err != nil {
		return nil, serializationError("Expected an integer for %s.", name)
	}
	return &n, nil
}

// strList returns member name as a list of strings; nil when absent.
func (o jsonObject) strList(name string) ([]string, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	var l []*string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, serializationError("Expected a list of strings for %s.", name)
	}
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s == nil {
			return nil, serializationError("Null element in %s.", name)
		}
		out = append(out, *s)
	}
	return out, nil
}

// objList returns member name as a list of objects; nil when absent.
func (o jsonObject) objList(name string) ([]jsonObject, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	var l []jsonObject
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, serializationError("Expected a list of structures for %s.", name)
	}
	for _, e := range l {
		if e == nil {
			return nil, serializationError("Null element in %s.", name)
		}
	}
	return l, nil
}

// strListMap returns member name as a map of string lists; nil when absent.
func (o jsonObject) strListMap(name string) (map[string][]string, error) {
	raw := o[name]
	if isNull(raw) {
		return nil, nil
	}
	var m map[string][]*string
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, serializationError("Expected a map of string lists for %s.", name)
	}
	out := make(map[string][]string, len(m))
	for k, l := range m {
		vals := make([]string, 0, len(l))
		for _, s := range l {
			if s == nil {
				return nil, serializationError("Null element in %s.%s.", name, k)
			}
			vals = append(vals, *s)
		}
		out[k] = vals
	}
	return out, nil
}

// validation collects API-model constraint violations and reports them the
// way AWS's front end does: "2 validation errors detected: Value 'x' at
// 'target' failed to satisfy constraint: Member must ...; Value ...".
type validation struct {
	errs []string
}

func (v *validation) fail(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + *value + "'"
	}
	v.errs = append(v.errs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s", val, member, constraint))
}

// required checks that s is present.
func (v *validation) required(s *string, member string) bool {
	if s == nil {
		v.fail(nil, member, "not be null")
		return false
	}
	return true
}

// length checks min <= len(s) <= max in characters, for a present s.
func (v *validation) length(s *string, member string, minLen, maxLen int) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	switch {
	case n < minLen:
		v.fail(s, member, fmt.Sprintf("have length greater than or equal to %d", minLen))
	case maxLen > 0 && n > maxLen:
		v.fail(s, member, fmt.Sprintf("have length less than or equal to %d", maxLen))
	}
}

// pattern checks a present s against match, reporting pattern.
func (v *validation) pattern(s *string, member, pattern string, match func(string) bool) {
	if s != nil && !match(*s) {
		v.fail(s, member, "satisfy regular expression pattern: "+pattern)
	}
}

// err returns the collected violations as an error with code, or nil.
func (v *validation) err(code string) error {
	if len(v.errs) == 0 {
		return nil
	}
	noun := "error"
	if len(v.errs) > 1 {
		noun = "errors"
	}
	return &awsproto.Error{Code: code, Message: fmt.Sprintf("%d validation %s detected: %s", len(v.errs), noun, strings.Join(v.errs, "; "))}
}
