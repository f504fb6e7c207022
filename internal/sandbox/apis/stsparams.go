package apis

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/totp"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// STS's messages for MFA failures, as AWS words them.
const (
	mfaInvalidCode = "MultiFactorAuthentication failed with invalid MFA one time pass code."
	mfaBothNeeded  = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
	mfaBadSerial   = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."
)

// Parameter shapes of the STS API model.
var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	serialRE      = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
	tokenCodeRE   = regexp.MustCompile(`^[\d]*$`)
	tagKeyRE      = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// validationError is the AWS query protocol's model validation failure:
//
//	1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must …
func validationError(value *string, field, constraint string) *awsproto.Error {
	v := "null"
	if value != nil {
		v = "'" + *value + "'"
	}
	return &awsproto.Error{Code: "ValidationError", Message: fmt.Sprintf(
		"1 validation error detected: Value %s at '%s' failed to satisfy constraint: Member must %s", v, field, constraint)}
}

// stringParam checks an optional (required false) or required string
// parameter's length and pattern; field is the model's camel-case name.
func stringParam(f url.Values, name, field string, required bool, minLen, maxLen int, re *regexp.Regexp, pattern string) (string, error) {
	vals, ok := f[name]
	if !ok {
		if required {
			return "", validationError(nil, field, "not be null")
		}
		return "", nil
	}
	v := vals[0]
	switch n := len([]rune(v)); {
	case n < minLen:
		return "", validationError(&v, field, fmt.Sprintf("have length greater than or equal to %d", minLen))
	case n > maxLen:
		return "", validationError(&v, field, fmt.Sprintf("have length less than or equal to %d", maxLen))
	}
	if re != nil && !re.MatchString(v) {
		return "", validationError(&v, field, "satisfy regular expression pattern: "+pattern)
	}
	return v, nil
}

// durationParam reads DurationSeconds: def when absent, else an integer in
// [lo, hi].
func durationParam(f url.Values, def, lo, hi int) (time.Duration, error) {
	vals, ok := f["DurationSeconds"]
	if !ok {
		return time.Duration(def) * time.Second, nil
	}
	v := vals[0]
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &awsproto.Error{Code: "ValidationError", Message: fmt.Sprintf("Value (%s) for parameter DurationSeconds is invalid. Expected an integer.", v)}
	}
	if n < lo {
		return 0, validationError(&v, "durationSeconds", fmt.Sprintf("have value greater than or equal to %d", lo))
	}
	if n > hi {
		return 0, validationError(&v, "durationSeconds", fmt.Sprintf("have value less than or equal to %d", hi))
	}
	return time.Duration(n) * time.Second, nil
}

// checkMFA validates SerialNumber and TokenCode, when given, against the
// caller's virtual MFA device and reports whether MFA was used. Both or
// neither must be given; the device must be the caller's; the code must be
// the device's current one, unused.
func (h *handler) checkMFA(c *call) (bool, error) {
	serial, err := stringParam(c.form, "SerialNumber", "serialNumber", false, 9, 256, serialRE, `[\w+=/:,.@-]*`)
	if err != nil {
		return false, err
	}
	code, err := stringParam(c.form, "TokenCode", "tokenCode", false, 6, 6, tokenCodeRE, `[\d]*`)
	if err != nil {
		return false, err
	}
	if serial == "" && code == "" {
		return false, nil
	}
	denied := func(msg string) error {
		return &awsproto.Error{Code: "AccessDenied", Message: msg, Status: http.StatusForbidden}
	}
	if serial == "" || code == "" {
		return false, denied(mfaBothNeeded)
	}
	dev, ok := h.world.MFADevice(serial)
	if !ok || dev.UserARN != c.id.ARN {
		return false, denied(mfaBadSerial)
	}
	switch err := h.world.CheckMFA(serial, code); err {
	case nil:
		return true, nil
	case totp.ErrCodeFormat:
		return false, validationError(&code, "tokenCode", `satisfy regular expression pattern: [\d]*`)
	default:
		return false, denied(mfaInvalidCode)
	}
}

// sessionTags are the session tags of a request (Tags.member.N.Key/Value)
// and its transitive tag keys (TransitiveTagKeys.member.N).
type sessionTags struct {
	tags       map[string]string
	order      []string // keys in request order
	transitive []string
}

// parseSessionTags reads and checks the request's session tags: at most
// 50, keys 1–128 and values 0–256 characters of IAM's tag alphabet, no
// key twice (tag keys are case-insensitive), and transitive keys among
// the tags.
func parseSessionTags(f url.Values) (sessionTags, error) {
	st := sessionTags{tags: map[string]string{}}
	type kv struct {
		i          int
		key, value string
	}
	byIndex := map[int]*kv{}
	for k, vals := range f {
		rest, ok := strings.CutPrefix(k, "Tags.member.")
		if !ok {
			continue
		}
		idx, field, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 1 || (field != "Key" && field != "Value") {
			return st, &awsproto.Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("The parameter %s is not recognized", k)}
		}
		t := byIndex[i]
		if t == nil {
			t = &kv{i: i}
			byIndex[i] = t
		}
		if field == "Key" {
			t.key = vals[0]
		} else {
			t.value = vals[0]
		}
	}
	list := make([]*kv, 0, len(byIndex))
	for _, t := range byIndex {
		list = append(list, t)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].i < list[b].i })
	if len(list) > 50 {
		n := strconv.Itoa(len(list))
		return st, validationError(&n, "tags", "have length less than or equal to 50")
	}
	for _, t := range list {
		if len([]rune(t.key)) < 1 || len([]rune(t.key)) > 128 || !tagKeyRE.MatchString(t.key) {
			return st, validationError(&t.key, fmt.Sprintf("tags.%d.member.key", t.i), `satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+ and have length between 1 and 128`)
		}
		if len([]rune(t.value)) > 256 || !tagValueRE.MatchString(t.value) {
			return st, validationError(&t.value, fmt.Sprintf("tags.%d.member.value", t.i), `satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]* and have length less than or equal to 256`)
		}
		for _, k := range st.order {
			if strings.EqualFold(k, t.key) {
				return st, &awsproto.Error{Code: "InvalidParameterValue", Message: "Duplicate tag keys found. Please note that Tag keys are case insensitive."}
			}
		}
		st.tags[t.key] = t.value
		st.order = append(st.order, t.key)
	}
	trans, err := awsproto.List(f, "TransitiveTagKeys.member")
	if err != nil {
		return st, err
	}
	for _, k := range trans {
		found := false
		for _, tk := range st.order {
			found = found || strings.EqualFold(tk, k)
		}
		if !found {
			return st, &awsproto.Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("The transitive tag key %s is not among the session tags.", k)}
		}
	}
	st.transitive = trans
	return st, nil
}

// conditionKeys are the tag condition keys of the request (aws:RequestTag/K,
// aws:TagKeys, sts:TransitiveTagKeys), added to keys.
func (st sessionTags) conditionKeys(keys map[string][]string) map[string][]string {
	for k, v := range st.tags {
		keys["aws:RequestTag/"+k] = []string{v}
	}
	if len(st.order) > 0 {
		keys["aws:TagKeys"] = append([]string(nil), st.order...)
	}
	if len(st.transitive) > 0 {
		keys["sts:TransitiveTagKeys"] = append([]string(nil), st.transitive...)
	}
	return keys
}

// packedPolicySize is STS's PackedPolicySize for the tags: the percentage
// of the packed session policy and tag limit they use.
func (st sessionTags) packedPolicySize() int {
	n := 0
	for k, v := range st.tags {
		n += len(k) + len(v) + 4
	}
	return (n*100 + 2047) / 2048
}

// credentialsXML is the Credentials element of STS responses.
type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func credsXML(c world.Credentials) credentialsXML {
	return credentialsXML{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		Expiration: c.Expiration.UTC().Format(time.RFC3339)}
}

// maxSessionTokenBytes is the session token size SessionTokenUtilization
// counts against (STS does not document its limit; the sandbox's tokens
// are ~360 bytes, a few percent, as AWS's are).
const maxSessionTokenBytes = 8192

// tokenSize is the SessionTokenSize and SessionTokenUtilization elements
// of newer STS responses.
type tokenSize struct {
	Size        int `xml:"SessionTokenSize"`
	Utilization int `xml:"SessionTokenUtilization"`
}

func sizeOf(token string) tokenSize {
	return tokenSize{Size: len(token), Utilization: (len(token)*100 + maxSessionTokenBytes - 1) / maxSessionTokenBytes}
}

// assumedRoleUserXML is the AssumedRoleUser element.
type assumedRoleUserXML struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

// trailCredentials are an STS response's credentials as CloudTrail shows
// them: never the secret or the session token.
func trailCredentials(c credentialsXML) map[string]any {
	return map[string]any{"accessKeyId": c.AccessKeyID, "expiration": c.Expiration}
}
