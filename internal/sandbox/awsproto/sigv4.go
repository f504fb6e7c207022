package awsproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm the sandbox accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's timestamp may be from the server's clock,
// as on AWS.
const MaxSkew = 15 * time.Minute

// amzDateFormat is the ISO 8601 basic format of X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// SignatureMismatchMessage is AWS's message for a bad signature.
const SignatureMismatchMessage = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Authorization is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
type Authorization struct {
	AccessKeyID string
	Date        string // credential scope date, YYYYMMDD
	Region      string
	Service     string
	// SignedHeaders are the lower-case header names in the order listed.
	SignedHeaders []string
	// Signature is the decoded 32-byte signature.
	Signature []byte
}

// Scope returns the credential scope, date/region/service/aws4_request.
func (a Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// ParseAuthorization parses a SigV4 Authorization header value. Errors are
// *AuthError with Kind AuthIncomplete.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(h, Algorithm)
	if !ok || rest == "" || (rest[0] != ' ') {
		return a, incomplete("Authorization header must start with %s", Algorithm)
	}
	cred, signed, sig, err := authorizationComponents(rest)
	if err != nil {
		return a, err
	}
	if err := a.parseCredential(cred); err != nil {
		return a, err
	}
	if err := a.parseSignedHeaders(signed); err != nil {
		return a, err
	}
	if len(sig) != 2*sha256.Size || strings.ToLower(sig) != sig {
		return a, incomplete("Signature must be 64 lower-case hex digits")
	}
	b, err := hex.DecodeString(sig)
	if err != nil {
		return a, incomplete("Signature must be 64 lower-case hex digits")
	}
	a.Signature = b
	return a, nil
}

// authorizationComponents splits what follows the algorithm into its
// three components, each required once.
func authorizationComponents(rest string) (cred, signed, sig string, err error) {
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return "", "", "", incomplete("Authorization header component %q is not key=value", part)
		}
		var dst *string
		var i int
		switch k {
		case "Credential":
			dst, i = &cred, 0
		case "SignedHeaders":
			dst, i = &signed, 1
		case "Signature":
			dst, i = &sig, 2
		default:
			return "", "", "", incomplete("Authorization header has unknown component %q", k)
		}
		if seen[i] {
			return "", "", "", incomplete("Authorization header repeats %s", k)
		}
		seen[i] = true
		*dst = v
	}
	for i, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[i] {
			return "", "", "", incomplete("Authorization header requires '%s' parameter", name)
		}
	}
	return cred, signed, sig, nil
}

// parseCredential sets a's key id, date, region and service from
// <key>/<YYYYMMDD>/<region>/<service>/aws4_request.
func (a *Authorization) parseCredential(cred string) error {
	fields := strings.Split(cred, "/")
	if len(fields) != 5 || fields[4] != "aws4_request" {
		return incomplete("Credential must have the form <key>/<YYYYMMDD>/<region>/<service>/aws4_request")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = fields[0], fields[1], fields[2], fields[3]
	if a.AccessKeyID == "" || a.Region == "" || a.Service == "" {
		return incomplete("Credential has an empty component")
	}
	if _, err := time.Parse("20060102", a.Date); err != nil || len(a.Date) != 8 {
		return incomplete("Credential date %q is not YYYYMMDD", a.Date)
	}
	if !isToken(a.AccessKeyID) || !isToken(a.Region) || !isToken(a.Service) {
		return incomplete("Credential contains invalid characters")
	}
	return nil
}

// parseSignedHeaders sets a's signed headers: lower-case names, each
// once, host among them.
func (a *Authorization) parseSignedHeaders(signed string) error {
	if signed == "" {
		return incomplete("SignedHeaders is empty")
	}
	dup := map[string]bool{}
	for name := range strings.SplitSeq(signed, ";") {
		if name == "" || name != strings.ToLower(name) || !isToken(name) {
			return incomplete("SignedHeaders entry %q is not a lower-case header name", name)
		}
		if dup[name] {
			return incomplete("SignedHeaders repeats %q", name)
		}
		dup[name] = true
		a.SignedHeaders = append(a.SignedHeaders, name)
	}
	if !dup["host"] {
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

// isToken reports whether s is non-empty and has only visible ASCII other
// than the separators of the Authorization header.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ',' || c == ';' || c == '/' || c == '=' {
			return false
		}
	}
	return true
}

// Credential is what the Verifier knows of an access key.
type Credential struct {
	Secret string
	// SessionToken is set for temporary credentials: every request signed
	// with the key must carry it (X-Amz-Security-Token), and Expiration
	// ends them. Long-term keys have neither, and a request with one and
	// a session token is refused, as on AWS.
	SessionToken string
	Expiration   time.Time
}

// Verifier checks SigV4-signed requests.
type Verifier struct {
	// Lookup returns what is known of accessKeyID; ok is false for an
	// unknown key. Required.
	Lookup func(accessKeyID string) (c Credential, ok bool)
	// Now returns the server's time; nil means time.Now.
	Now func() time.Time
	// Region, when set, is the only region a credential scope may name.
	Region string
}

// Verify checks the SigV4 signature on r, whose body has already been read
// into body. On success it returns the parsed Authorization; every failure
// is an *AuthError.
func (v *Verifier) Verify(r *http.Request, body []byte) (Authorization, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		if r.URL.Query().Has("X-Amz-Signature") {
			return Authorization{}, &AuthError{Kind: AuthMissing, Detail: "presigned requests are not supported by the sandbox"}
		}
		return Authorization{}, &AuthError{Kind: AuthMissing}
	}
	if len(h) > 1 {
		return Authorization{}, incomplete("more than one Authorization header")
	}
	a, err := ParseAuthorization(h[0])
	if err != nil {
		return a, err
	}
	// X-Amz-Target names the operation of JSON-protocol services: a
	// signature that does not cover it would let anyone holding one signed
	// request replay it as another operation. The SDKs and the aws CLI
	// sign it.
	if len(r.Header.Values("X-Amz-Target")) > 0 && !slices.Contains(a.SignedHeaders, "x-amz-target") {
		return a, incomplete("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
	}
	tokens := r.Header.Values("X-Amz-Security-Token")
	if len(tokens) > 1 {
		return a, incomplete("more than one X-Amz-Security-Token header")
	}
	if len(tokens) == 1 && !slices.Contains(a.SignedHeaders, "x-amz-security-token") {
		return a, incomplete("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.")
	}
	tokens = append(tokens, "")
	secret, err := v.credential(a.AccessKeyID, tokens[0])
	if err != nil {
		return a, err
	}

	amzDate, signedAt, err := requestTime(r)
	if err != nil {
		return a, err
	}
	t := v.now()
	if signedAt.Before(t.Add(-MaxSkew)) {
		return a, &AuthError{Kind: AuthExpired, Detail: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, t.Add(-MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
	}
	if signedAt.After(t.Add(MaxSkew)) {
		return a, &AuthError{Kind: AuthExpired, Detail: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, t.Add(MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
	}
	if a.Date != amzDate[:8] {
		return a, &AuthError{Kind: AuthBadSignature, Detail: fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, amzDate[:8], amzDate)}
	}
	if v.Region != "" && a.Region != v.Region {
		return a, &AuthError{Kind: AuthBadSignature, Detail: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", a.Region)}
	}
	if cs := r.Header.Get("X-Amz-Content-Sha256"); cs != "" && cs != hashHex(body) {
		return a, &AuthError{Kind: AuthBadSignature, Detail: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}

	creq, err := CanonicalRequest(r, a.SignedHeaders, hashHex(body))
	if err != nil {
		return a, err
	}
	want := signature(secret, a, amzDate, creq)
	if !hmac.Equal(want, a.Signature) {
		return a, &AuthError{Kind: AuthBadSignature}
	}
	return a, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

// credential returns the secret of accessKeyID after checking the
// request's session token: a temporary key needs its own token (else
// AuthUnknownKey, which AWS reports as an invalid security token) and must
// not have expired (AuthTokenExpired); a long-term key takes none.
func (v *Verifier) credential(accessKeyID, token string) (string, error) {
	c, ok := v.Lookup(accessKeyID)
	if !ok {
		return "", &AuthError{Kind: AuthUnknownKey}
	}
	if c.SessionToken == "" {
		if token != "" {
			return "", &AuthError{Kind: AuthUnknownKey}
		}
		return c.Secret, nil
	}
	if subtle.ConstantTimeCompare([]byte(c.SessionToken), []byte(token)) != 1 {
		return "", &AuthError{Kind: AuthUnknownKey}
	}
	if !v.now().Before(c.Expiration) {
		return "", &AuthError{Kind: AuthTokenExpired}
	}
	return c.Secret, nil
}

// requestTime returns the request's signing time from X-Amz-Date, or failing
// that from Date, both as the ISO 8601 basic string used in the string to
// sign and as a time.
func requestTime(r *http.Request) (string, time.Time, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(amzDateFormat, s)
		if err != nil {
			return "", time.Time{}, incomplete("X-Amz-Date %q is not in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z')", s)
		}
		return s, t, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := http.ParseTime(s)
		if err != nil {
			return "", time.Time{}, incomplete("Date header %q is not an HTTP date", s)
		}
		t = t.UTC()
		return t.Format(amzDateFormat), t, nil
	}
	return "", time.Time{}, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// CanonicalRequest builds the SigV4 canonical request for r with the given
// signed headers (lower-case, in the order to sign them) and hex payload
// hash. Go moves some headers out of r.Header (Host to r.Host, and for
// servers Content-Length may live only in r.ContentLength); they are
// recovered from there.
func CanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), nil
}

// headerValue returns the canonical value of header name on r: values
// trimmed, inner runs of spaces collapsed, multiple values joined by ",".
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
	case "transfer-encoding":
		if _, ok := r.Header["Transfer-Encoding"]; !ok {
			return strings.Join(r.TransferEncoding, ",")
		}
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalURI returns the URI-encoded escaped path; as for every service
// but S3 the already-escaped path is encoded once more.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if u.Opaque != "" {
		p = u.Opaque
	}
	if p == "" {
		p = "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery decodes raw and re-encodes it sorted by key then value.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	type kv struct{ k, v string }
	var pairs []kv
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", incomplete("query string is not validly escaped")
		}
		pairs = append(pairs, kv{uriEncode(dk, true), uriEncode(dv, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// uriEncode percent-encodes every byte except the RFC 3986 unreserved
// characters (and '/' unless encodeSlash), with upper-case hex.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// StringToSign returns the SigV4 string to sign.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(canonicalRequest))
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func signature(secret string, a Authorization, amzDate, canonicalRequest string) []byte {
	key := SigningKey(secret, a.Date, a.Region, a.Service)
	return hmacSHA256(key, StringToSign(amzDate, a.Scope(), canonicalRequest))
}

// Sign signs r in place with the Authorization and X-Amz-Date headers, the
// way the AWS SDKs do, signing host, x-amz-date and every header already on
// r except User-Agent, Authorization, Expect and X-Amzn-Trace-Id. It exists
// for tests and tools that need to talk to the sandbox without an SDK.
func Sign(r *http.Request, body []byte, accessKeyID, secret, region, service string, t time.Time) {
	amzDate := t.UTC().Format(amzDateFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	names := []string{"host"}
	for k := range r.Header {
		switch lk := strings.ToLower(k); lk {
		case "user-agent", "authorization", "expect", "x-amzn-trace-id", "host":
		default:
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	a := Authorization{AccessKeyID: accessKeyID, Date: amzDate[:8], Region: region, Service: service, SignedHeaders: names}
	creq, err := CanonicalRequest(r, names, hashHex(body))
	if err != nil {
		// An unparsable query cannot be signed; leave it unsigned so the
		// server rejects it.
		return
	}
	sig := signature(secret, a, amzDate, creq)
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		Algorithm, accessKeyID, a.Scope(), strings.Join(names, ";"), hex.EncodeToString(sig)))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// AuthErrorKind classifies why a request failed authentication; each
// protocol maps a kind to its own error code (see Protocol.AuthError).
type AuthErrorKind int

// Kinds of authentication failure.
const (
	// AuthMissing: no Authorization header.
	AuthMissing AuthErrorKind = iota + 1
	// AuthIncomplete: the Authorization header or the date is malformed.
	AuthIncomplete
	// AuthUnknownKey: the access key (or a session token) is not known.
	AuthUnknownKey
	// AuthBadSignature: the signature, scope or payload hash is wrong.
	AuthBadSignature
	// AuthExpired: the request time is more than MaxSkew from now.
	AuthExpired
	// AuthTokenExpired: the temporary credentials have expired.
	AuthTokenExpired
)

// AuthError is a failed SigV4 verification.
type AuthError struct {
	Kind AuthErrorKind
	// Detail is the AWS message to show, when it differs from the kind's
	// default (e.g. "Signature expired: ...").
	Detail string
}

func (e *AuthError) Error() string {
	names := map[AuthErrorKind]string{
		AuthMissing: "missing authentication", AuthIncomplete: "incomplete signature",
		AuthUnknownKey: "unknown access key", AuthBadSignature: "signature mismatch", AuthExpired: "expired signature", AuthTokenExpired: "expired security token",
	}
	if e.Detail != "" {
		return "sigv4: " + names[e.Kind] + ": " + e.Detail
	}
	return "sigv4: " + names[e.Kind]
}

func incomplete(format string, args ...any) *AuthError {
	return &AuthError{Kind: AuthIncomplete, Detail: fmt.Sprintf(format, args...)}
}

// EmptyPayloadHash is the SHA-256 of the empty string, the payload hash of
// presigned GET requests such as EC2 Instance Connect Endpoint's
// /openTunnel URL (eic-spec.md §3.4).
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Presigned query parameters.
const (
	QueryAlgorithm     = "X-Amz-Algorithm"
	QueryCredential    = "X-Amz-Credential"
	QueryDate          = "X-Amz-Date"
	QueryExpires       = "X-Amz-Expires"
	QuerySignedHeaders = "X-Amz-SignedHeaders"
	QuerySignature     = "X-Amz-Signature"
	QuerySecurityToken = "X-Amz-Security-Token"
)

// VerifyPresigned checks a request signed in its query string (SigV4 query
// auth): the X-Amz-* parameters, the signature over the canonical request
// without X-Amz-Signature and with payloadHash, and the validity window
// X-Amz-Date + X-Amz-Expires, which may be at most maxExpires. Every
// failure is an *AuthError.
func (v *Verifier) VerifyPresigned(r *http.Request, payloadHash string, maxExpires time.Duration) (Authorization, error) {
	var a Authorization
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return a, incomplete("query string is not validly escaped")
	}
	if r.Header.Get("Authorization") != "" {
		return a, incomplete("a presigned request must not also carry an Authorization header")
	}
	vals, err := presignedParams(q)
	if err != nil {
		return a, err
	}
	alg, cred, amzDate, expires, signed, sig := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	if alg != Algorithm {
		return a, incomplete("%s must be %s", QueryAlgorithm, Algorithm)
	}
	// Reuse the header parser for the credential, signed headers and
	// signature rules.
	a, err = ParseAuthorization(Algorithm + " Credential=" + cred + ", SignedHeaders=" + signed + ", Signature=" + sig)
	if err != nil {
		return a, err
	}
	tokens := q[QuerySecurityToken]
	if len(tokens) > 1 || len(tokens) == 1 && r.Header.Get("X-Amz-Security-Token") != "" {
		return a, incomplete("the security token is given more than once")
	}
	tokens = append(tokens, "")
	secret, err := v.credential(a.AccessKeyID, tokens[0])
	if err != nil {
		return a, err
	}
	if err := v.checkPresignedTime(a, amzDate, expires, maxExpires); err != nil {
		return a, err
	}
	if v.Region != "" && a.Region != v.Region {
		return a, &AuthError{Kind: AuthBadSignature, Detail: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", a.Region)}
	}
	creq, err := PresignedCanonicalRequest(r, a.SignedHeaders, payloadHash)
	if err != nil {
		return a, err
	}
	if want := signature(secret, a, amzDate, creq); !hmac.Equal(want, a.Signature) {
		return a, &AuthError{Kind: AuthBadSignature}
	}
	return a, nil
}

// presignedParams returns the query's algorithm, credential, date,
// expiry, signed headers and signature, each required once.
func presignedParams(q url.Values) ([6]string, error) {
	var vals [6]string
	for i, k := range []string{QueryAlgorithm, QueryCredential, QueryDate, QueryExpires, QuerySignedHeaders, QuerySignature} {
		switch v := q[k]; {
		case len(v) == 0 || v[0] == "":
			return vals, &AuthError{Kind: AuthMissing, Detail: "presigned request lacks " + k}
		case len(v) > 1:
			return vals, incomplete("query parameter %s is repeated", k)
		default:
			vals[i] = v[0]
		}
	}
	return vals, nil
}

// checkPresignedTime checks the signing time and expiry against the
// clock (and maxExpires) and the credential scope's date.
func (v *Verifier) checkPresignedTime(a Authorization, amzDate, expires string, maxExpires time.Duration) error {
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return incomplete("%s %q is not in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z')", QueryDate, amzDate)
	}
	secs, err := strconv.Atoi(expires)
	if err != nil || secs < 1 || strconv.Itoa(secs) != expires {
		return incomplete("%s %q must be a positive number of seconds", QueryExpires, expires)
	}
	if time.Duration(secs)*time.Second > maxExpires {
		return incomplete("%s must be at most %d seconds", QueryExpires, int(maxExpires/time.Second))
	}
	t := v.now()
	if end := signedAt.Add(time.Duration(secs) * time.Second); t.After(end) {
		return &AuthError{Kind: AuthExpired, Detail: fmt.Sprintf("Request has expired: signed at %s, valid for %d seconds, now %s", amzDate, secs, t.Format(amzDateFormat))}
	}
	if signedAt.After(t.Add(MaxSkew)) {
		return &AuthError{Kind: AuthExpired, Detail: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, t.Add(MaxSkew).Format(amzDateFormat), t.Format(amzDateFormat))}
	}
	if a.Date != amzDate[:8] {
		return &AuthError{Kind: AuthBadSignature, Detail: fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.Date, amzDate[:8], amzDate)}
	}
	return nil
}

// PresignedCanonicalRequest is CanonicalRequest for query auth: the
// X-Amz-Signature parameter is left out of the canonical query.
func PresignedCanonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) (string, error) {
	var kept []string
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if k, _, _ := strings.Cut(part, "="); k == QuerySignature {
			continue
		}
		kept = append(kept, part)
	}
	r2 := *r
	u := *r.URL
	u.RawQuery = strings.Join(kept, "&")
	r2.URL = &u
	return CanonicalRequest(&r2, signedHeaders, payloadHash)
}
