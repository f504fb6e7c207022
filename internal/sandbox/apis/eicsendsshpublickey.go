package apis

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/jitssh/jitssh/internal/sandbox/awsproto"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// Constraints from the ec2-instance-connect 2018-04-02 API model
// (eic-spec.md §2.2).
var (
	eicInstanceIDPattern = regexp.MustCompile(`^i-[a-f0-9]+$`)
	eicAZPattern         = regexp.MustCompile(`^(\w+-){2,3}\d+\w+$`)
	// osUserFirstAlt is the first alternative of the InstanceOSUser
	// pattern; the second needs a lookahead RE2 lacks, see validOSUser.
	osUserFirstAlt  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$`)
	osUserSecondAlt = regexp.MustCompile(`^[0-9]{1,32}[A-Za-z@._-][A-Za-z0-9@._-]*[A-Za-z0-9$_-]?$`)
)

const osUserPattern = `(^[A-Za-z_][A-Za-z0-9\@\._-]{0,30}[A-Za-z0-9\$_-]?$)|(^(?=.{2,32}$)[0-9]{1,32}[A-Za-z\@\._-][A-Za-z0-9\@\._-]*[A-Za-z0-9\$_-]?$)`

// validOSUser reports whether u matches the model's InstanceOSUser
// pattern; the lookahead (?=.{2,32}$) of the second alternative is a
// length check done by hand.
func validOSUser(u string) bool {
	if osUserFirstAlt.MatchString(u) {
		return true
	}
	return len(u) >= 2 && len(u) <= 32 && osUserSecondAlt.MatchString(u)
}

// errInvalidKey is the reason behind InvalidArgsException for key material.
var errInvalidKey = errors.New("SSH Public key is invalid")

// parseEICKey checks that s is one OpenSSH authorized_keys-style public key
// line of a type EC2 Instance Connect accepts (ssh-rsa, ssh-ed25519),
// without options, and returns it normalised (trimmed, single spaces). It
// refuses anything that could smuggle a second line or control characters
// into the instance's authorized keys output.
func parseEICKey(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return "", fmt.Errorf("%w: control character in key", errInvalidKey)
		}
	}
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return "", fmt.Errorf("%w: want \"<type> <base64> [comment]\"", errInvalidKey)
	}
	typ, b64 := fields[0], fields[1]
	if typ != ssh.KeyAlgoRSA && typ != ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("%w: key type %q is not supported", errInvalidKey, typ)
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%w: key data is not base64", errInvalidKey)
	}
	pub, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errInvalidKey, err)
	}
	if pub.Type() != typ {
		return "", fmt.Errorf("%w: key data is %s, line says %s", errInvalidKey, pub.Type(), typ)
	}
	line := typ + " " + b64
	if len(fields) > 2 {
		line += " " + strings.Join(fields[2:], " ")
	}
	return line, nil
}

type sendSSHPublicKeyOutput struct {
	RequestID string `json:"RequestId"`
	Success   bool   `json:"Success"`
}

// sendSSHPublicKey serves ec2-instance-connect:SendSSHPublicKey: it
// publishes the key for the instance's OS user for world.KeyLifetime.
func (h *handler) sendSSHPublicKey(c *call) (any, error) {
	in, err := parseJSONObject(c.body)
	if err != nil {
		return nil, err
	}
	var fields [4]*string
	for i, name := range []string{"InstanceId", "InstanceOSUser", "SSHPublicKey", "AvailabilityZone"} {
		if fields[i], err = in.str(name); err != nil {
			return nil, err
		}
	}
	instanceID, osUser, key, az := fields[0], fields[1], fields[2], fields[3]

	var v validation
	if v.required(instanceID, "instanceId") {
		v.length(instanceID, "instanceId", 10, 32)
		v.pattern(instanceID, "instanceId", eicInstanceIDPattern.String(), eicInstanceIDPattern.MatchString)
	}
	if v.required(osUser, "instanceOSUser") {
		v.length(osUser, "instanceOSUser", 1, 32)
		v.pattern(osUser, "instanceOSUser", osUserPattern, validOSUser)
	}
	if v.required(key, "sSHPublicKey") {
		v.length(key, "sSHPublicKey", 80, 4096)
	}
	v.length(az, "availabilityZone", 6, 32)
	v.pattern(az, "availabilityZone", eicAZPattern.String(), eicAZPattern.MatchString)
	if err := v.err("InvalidArgsException"); err != nil {
		return nil, err
	}
	line, err := parseEICKey(*key)
	if err != nil {
		return nil, &awsproto.Error{Code: "InvalidArgsException", Message: errInvalidKey.Error() + "."}
	}

	// AWS authorises before it looks the instance up, so the existence of
	// instances the caller may not use does not leak.
	inst, ok := h.world.Instance(*instanceID)
	keys := map[string][]string{"ec2:osuser": {*osUser}}
	if ok {
		keys = resourceTagKeys(inst, keys)
	}
	if err := h.authorize(c, "ec2-instance-connect:SendSSHPublicKey", h.instanceARN(*instanceID), keys); err != nil {
		return nil, err
	}
	if !ok {
		return nil, awsproto.Errorf("EC2InstanceNotFoundException", "Instance %s not found", *instanceID)
	}
	if az != nil && *az != inst.AZ {
		return nil, awsproto.Errorf("EC2InstanceNotFoundException", "Instance %s not found in availability zone %s", *instanceID, *az)
	}
	if inst.State != "running" {
		// The message of AWS's API model for this exception.
		return nil, awsproto.Errorf("EC2InstanceStateInvalidException",
			"Unable to connect because the instance is not in a valid state. Connecting to a stopped or terminated instance is not supported. If the instance is stopped, start your instance, and try to connect again.")
	}
	h.world.PushKey(world.PushedKey{
		InstanceID: inst.ID,
		OSUser:     *osUser,
		PublicKey:  line,
		Caller:     c.id.ARN,
		RequestID:  c.reqID,
	})
	return sendSSHPublicKeyOutput{RequestID: c.reqID, Success: true}, nil
}
