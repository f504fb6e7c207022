// Package imdssvc is the sandbox's per-instance Instance Metadata Service:
// an http.Handler that speaks IMDSv2 as EC2 does (token PUT, token-only
// GETs) and serves the metadata an EC2 Instance Connect AuthorizedKeysCommand
// reads, including managed-ssh-keys with keys signed at serve time by the
// sandbox signer (eic-spec.md §1.2–§1.4).
//
// It serves only the paths jitssh and AWS's scripts use; it is not a
// general IMDS. IMDSv1 (token-less GETs) is refused, as on an instance with
// HttpTokens=required.
package imdssvc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jitssh/jitssh/internal/eickey"
	"github.com/jitssh/jitssh/internal/sandbox/signer"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// IMDSv2 header names.
const (
	TokenHeader    = "X-aws-ec2-metadata-token"
	TokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
)

// MaxTokenTTL is the longest token lifetime EC2 grants, in seconds.
const MaxTokenTTL = 21600

type handler struct {
	w          *world.World
	instanceID string
	signer     *signer.Signer
	secret     []byte // HMAC key of this handler's tokens

	credMu sync.Mutex
	creds  map[string]roleCreds // by role name
}

// roleCreds are the instance role's credentials IMDS hands out.
type roleCreds struct {
	world.Credentials
	issued time.Time
}

// RoleCredentialsTTL is how long the instance role's credentials last;
// IMDS hands out new ones when less than RoleCredentialsRenew is left, as
// EC2 rotates them well before they expire.
const (
	RoleCredentialsTTL   = 6 * time.Hour
	RoleCredentialsRenew = time.Hour
)

// New returns the IMDS of instanceID in w, whose managed-ssh-keys are signed
// by s. The instance is looked up on every request, so it may be added to
// or change in w later; until it exists every metadata path is 404.
func New(w *world.World, instanceID string, s *signer.Signer) http.Handler {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return &handler{w: w, instanceID: instanceID, signer: s, secret: secret}
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Server", "EC2ws")
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			h.status(rw, r, http.StatusMethodNotAllowed)
			return
		}
		h.token(rw, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		rw.Header().Set("Allow", "GET, HEAD")
		h.status(rw, r, http.StatusMethodNotAllowed)
		return
	}
	if !h.validToken(r.Header.Get(TokenHeader)) {
		h.status(rw, r, http.StatusUnauthorized)
		return
	}
	body, ok := h.lookup(r.URL.Path)
	if !ok {
		h.status(rw, r, http.StatusNotFound)
		return
	}
	h.text(rw, r, http.StatusOK, body)
}

// token answers PUT /latest/api/token.
func (h *handler) token(rw http.ResponseWriter, r *http.Request) {
	// EC2 refuses token requests that went through a proxy.
	if r.Header.Get("X-Forwarded-For") != "" {
		h.status(rw, r, http.StatusForbidden)
		return
	}
	v := r.Header.Get(TokenTTLHeader)
	ttl, err := strconv.Atoi(v)
	if v == "" || err != nil || ttl < 1 || ttl > MaxTokenTTL {
		h.status(rw, r, http.StatusBadRequest)
		return
	}
	expiry := h.w.Now().Add(time.Duration(ttl) * time.Second).Unix()
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(expiry))
	tok := base64.StdEncoding.EncodeToString(append(msg[:], h.mac(msg[:])...))
	rw.Header().Set(TokenTTLHeader, strconv.Itoa(ttl))
	h.text(rw, r, http.StatusOK, []byte(tok))
}

func (h *handler) mac(msg []byte) []byte {
	m := hmac.New(sha256.New, h.secret)
	m.Write(msg)
	return m.Sum(nil)
}

// validToken reports whether tok was issued by this handler and is unexpired.
func (h *handler) validToken(tok string) bool {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(raw) != 8+sha256.Size {
		return false
	}
	if !hmac.Equal(raw[8:], h.mac(raw[:8])) {
		return false
	}
	return h.w.Now().Unix() < int64(binary.BigEndian.Uint64(raw[:8]))
}

// lookup returns the body for a metadata path.
func (h *handler) lookup(path string) ([]byte, bool) {
	in, ok := h.w.Instance(h.instanceID)
	if !ok {
		return nil, false
	}
	switch {
	case strings.HasPrefix(path, "/latest/meta-data/"):
		return h.metadata(in, strings.TrimPrefix(path, "/latest/meta-data/"))
	case strings.TrimSuffix(path, "/") == "/latest/dynamic/instance-identity/document":
		return h.identityDocument(in), true
	}
	return nil, false
}

func (h *handler) metadata(in world.Instance, p string) ([]byte, bool) {
	const keysPrefix = "managed-ssh-keys/active-keys/"
	if user, ok := strings.CutPrefix(p, keysPrefix); ok && user != "" {
		user = strings.TrimSuffix(user, "/")
		if user == "" || strings.Contains(user, "/") {
			return nil, false
		}
		return h.activeKeys(in, user)
	}
	if role, ok := strings.CutPrefix(p, "iam/security-credentials/"); ok && role != "" {
		return h.roleCredentials(in, strings.TrimSuffix(role, "/"))
	}
	const ocspPrefix = "managed-ssh-keys/signer-ocsp/"
	if name, ok := strings.CutPrefix(p, ocspPrefix); ok && name != "" {
		resps, err := h.signer.OCSP()
		if err != nil {
			return nil, false
		}
		der, ok := resps[strings.TrimSuffix(name, "/")]
		if !ok {
			return nil, false
		}
		return []byte(base64.StdEncoding.EncodeToString(der)), true
	}

	az := in.AZ
	if az == "" {
		az = h.w.Region + "a"
	}
	switch strings.TrimSuffix(p, "/") {
	case "":
		if in.Role != "" {
			return lines("iam/", "instance-id", "local-hostname", "local-ipv4", "managed-ssh-keys/", "placement/", "services/"), true
		}
		return lines("instance-id", "local-hostname", "local-ipv4", "managed-ssh-keys/", "placement/", "services/"), true
	case "instance-id":
		return []byte(in.ID), true
	case "placement":
		return lines("availability-zone", "region"), true
	case "placement/availability-zone":
		return []byte(az), true
	case "placement/region":
		return []byte(h.w.Region), true
	case "services":
		return lines("domain"), true
	case "services/domain":
		return []byte(h.signer.Domain()), true
	case "local-hostname":
		return nonEmpty(in.PrivateDNS)
	case "local-ipv4":
		return nonEmpty(in.PrivateIP)
	case "managed-ssh-keys":
		return lines("active-keys/", "signer-cert/", "signer-ocsp/"), true
	case "iam", "iam/security-credentials", "iam/info":
		return h.iam(in, strings.TrimSuffix(p, "/"))
	case "managed-ssh-keys/signer-cert":
		return h.signer.ChainPEM(), true
	case "managed-ssh-keys/signer-ocsp":
		resps, err := h.signer.OCSP()
		if err != nil {
			return nil, false
		}
		names := make([]string, 0, len(resps))
		for n := range resps {
			names = append(names, n)
		}
		sort.Strings(names)
		return lines(names...), true
	}
	return nil, false
}

// iam serves the instance profile's listing paths; 404 without a role.
func (h *handler) iam(in world.Instance, p string) ([]byte, bool) {
	if in.Role == "" {
		return nil, false
	}
	r, ok := h.w.Role(in.Role)
	if !ok {
		return nil, false
	}
	switch p {
	case "iam":
		return lines("info", "security-credentials/"), true
	case "iam/security-credentials":
		return []byte(r.Name), true
	}
	b, _ := json.MarshalIndent(map[string]string{
		"Code": "Success", "LastUpdated": h.w.Now().UTC().Format(time.RFC3339),
		"InstanceProfileArn": "arn:aws:iam::" + h.w.Account + ":instance-profile/" + r.Name,
		"InstanceProfileId":  "AIPA" + strings.TrimPrefix(r.ID, "AROA"),
	}, "", "  ")
	return b, true
}

// roleCredentials serves the role's temporary credentials, a session of
// the role named after the instance (as EC2's: assumed-role/ROLE/i-…).
func (h *handler) roleCredentials(in world.Instance, name string) ([]byte, bool) {
	if in.Role == "" || name != in.Role {
		return nil, false
	}
	r, ok := h.w.Role(name)
	if !ok {
		return nil, false
	}
	h.credMu.Lock()
	defer h.credMu.Unlock()
	now := h.w.Now()
	c, ok := h.creds[name]
	if !ok || c.Expiration.Sub(now) < RoleCredentialsRenew {
		c = roleCreds{Credentials: h.w.IssueSession(h.w.RoleSession(r, in.ID, nil), RoleCredentialsTTL), issued: now}
		if h.creds == nil {
			h.creds = map[string]roleCreds{}
		}
		h.creds[name] = c
	}
	b, _ := json.MarshalIndent(map[string]string{
		"Code": "Success", "LastUpdated": c.issued.UTC().Format(time.RFC3339), "Type": "AWS-HMAC",
		"AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey, "Token": c.SessionToken,
		"Expiration": c.Expiration.UTC().Format(time.RFC3339),
	}, "", "  ")
	return b, true
}

// activeKeys renders the user's unexpired keys, signed now; 404 when none.
func (h *handler) activeKeys(in world.Instance, user string) ([]byte, bool) {
	keys := h.w.ActiveKeys(in.ID, user)
	if len(keys) == 0 {
		return nil, false
	}
	entries := make([]eickey.Entry, 0, len(keys))
	for _, k := range keys {
		e, err := eickey.Sign(eickey.Draft{
			Expires:  k.Expires,
			Instance: in.ID,
			Caller:   k.Caller,
			Request:  k.RequestID,
			KeyLine:  strings.TrimSpace(k.PublicKey),
		}, h.signer.SignEntry)
		if err != nil {
			continue // a key that cannot be signed is not published
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, false
	}
	return eickey.Format(entries), true
}

func (h *handler) identityDocument(in world.Instance) []byte {
	az := in.AZ
	if az == "" {
		az = h.w.Region + "a"
	}
	doc := map[string]any{
		"accountId":        h.w.Account,
		"architecture":     "x86_64",
		"availabilityZone": az,
		"imageId":          in.ImageID,
		"instanceId":       in.ID,
		"instanceType":     in.InstanceType,
		"pendingTime":      in.LaunchTime.UTC().Format(time.RFC3339),
		"privateIp":        in.PrivateIP,
		"region":           h.w.Region,
		"version":          "2017-09-30",
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

func (h *handler) status(rw http.ResponseWriter, r *http.Request, code int) {
	h.text(rw, r, code, []byte(strconv.Itoa(code)+" - "+http.StatusText(code)+"\n"))
}

// text writes body as text/plain; HEAD gets the headers only.
func (h *handler) text(rw http.ResponseWriter, r *http.Request, code int, body []byte) {
	rw.Header().Set("Content-Type", "text/plain")
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = rw.Write(body)
	}
}

func lines(items ...string) []byte { return []byte(strings.Join(items, "\n")) }

func nonEmpty(s string) ([]byte, bool) { return []byte(s), s != "" }
