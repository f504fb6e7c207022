// Package policy owns the IAM documents jitssh asks an organisation to
// deploy: the user (identity) policy, the service control policy that stops
// users from pushing keys for someone else's OS account, and the instance
// profile (managed policy and trust policy). The same documents are printed
// by `jitssh policy` and enforced by the sandbox, so what users paste into
// AWS is what the tests exercise.
//
// Documents are plain structs that marshal to the JSON IAM accepts, with
// statements and keys in a fixed order; Parse reads the same shape back
// (single strings or lists for Action, Resource and condition values).
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Version is the policy language version every document uses.
const Version = "2012-10-17"

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document. Exactly one of Action and
// NotAction is set; identity policies and SCPs set Resource or
// NotResource, trust policies set Principal instead.
type Statement struct {
	Sid         string     `json:"Sid,omitempty"`
	Effect      Effect     `json:"Effect"`
	Principal   *Principal `json:"Principal,omitempty"`
	Action      Strings    `json:"Action,omitempty"`
	NotAction   Strings    `json:"NotAction,omitempty"`
	Resource    Strings    `json:"Resource,omitempty"`
	NotResource Strings    `json:"NotResource,omitempty"`
	Condition   Condition  `json:"Condition,omitempty"`
}

// Effect is Allow or Deny.
type Effect string

// Effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Principal is a trust policy's principal: "*" (AWS = ["*"]) or services
// and AWS principals.
type Principal struct {
	AWS     Strings `json:"AWS,omitempty"`
	Service Strings `json:"Service,omitempty"`
	// Federated names identity providers (an IAM OIDC provider's ARN)
	// whose tokens AssumeRoleWithWebIdentity accepts.
	Federated Strings `json:"Federated,omitempty"`
}

// Condition maps an operator (StringEquals, ArnLike, ...) to condition
// keys and their values: {"StringEquals": {"ec2:osuser": ["alice"]}}.
// encoding/json writes map keys sorted, so the output is stable.
type Condition map[string]map[string]Strings

// Strings is a list that IAM writes as a bare string when it has one
// element and as an array otherwise; both forms are accepted when reading.
type Strings []string

// MarshalJSON writes a single element as a string.
func (s Strings) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// UnmarshalJSON accepts a string or an array of strings. IAM also accepts
// booleans and numbers in condition values; they are kept as their JSON text.
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make(Strings, 0, len(raw))
		for _, r := range raw {
			v, err := scalar(r)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		*s = out
		return nil
	}
	v, err := scalar(b)
	if err != nil {
		return err
	}
	*s = Strings{v}
	return nil
}

func scalar(b json.RawMessage) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", errors.New("empty value")
	}
	switch b[0] {
	case '"':
		var v string
		err := json.Unmarshal(b, &v)
		return v, err
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return "", err
		}
		return string(b), nil
	}
	return "", fmt.Errorf("want a string or a list of strings, got %.20s", b)
}

// JSON returns d as indented JSON followed by a newline: the text a user
// pastes into the IAM or Organizations console.
func (d Document) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep ${...} and & readable
	enc.SetIndent("", "  ")
	// Documents hold only strings, maps and slices: encoding cannot fail.
	_ = enc.Encode(d)
	return buf.Bytes()
}

// MaxDocumentBytes bounds what Parse reads (IAM's largest limit, for
// managed policies, is 6,144 characters without whitespace; inline role
// policies allow 10,240).
const MaxDocumentBytes = 64 << 10

// Parse reads and validates a policy document. It rejects what IAM would
// reject in the subset jitssh uses: an unknown version, unknown fields, a
// statement without Effect, with both Action and NotAction or neither, and
// malformed actions.
func Parse(b []byte) (Document, error) {
	if len(b) > MaxDocumentBytes {
		return Document{}, fmt.Errorf("policy document is %d bytes, more than the %d allowed", len(b), MaxDocumentBytes)
	}
	var d Document
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("policy document is not valid JSON of the IAM policy shape: %w", err)
	}
	if dec.More() {
		return Document{}, errors.New("policy document has trailing data after the JSON object")
	}
	if err := d.Validate(); err != nil {
		return Document{}, err
	}
	return d, nil
}

var actionPattern = regexp.MustCompile(`^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$`)

// Validate checks the document's structure (see Parse).
func (d Document) Validate() error {
	if d.Version != Version && d.Version != "2008-10-17" {
		return fmt.Errorf("policy Version %q: want %q", d.Version, Version)
	}
	if len(d.Statement) == 0 {
		return errors.New("policy has no Statement")
	}
	for i, s := range d.Statement {
		where := fmt.Sprintf("Statement[%d]", i)
		if s.Sid != "" {
			where += " (" + s.Sid + ")"
		}
		if s.Effect != Allow && s.Effect != Deny {
			return fmt.Errorf("%s: Effect %q: want Allow or Deny", where, s.Effect)
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return fmt.Errorf("%s: exactly one of Action and NotAction is required", where)
		}
		for _, a := range append(append(Strings{}, s.Action...), s.NotAction...) {
			if !actionPattern.MatchString(a) {
				return fmt.Errorf("%s: action %q: want service:Action, wildcards allowed", where, a)
			}
		}
		if len(s.Resource) > 0 && len(s.NotResource) > 0 {
			return fmt.Errorf("%s: Resource and NotResource cannot both be set", where)
		}
		if s.Principal == nil && len(s.Resource) == 0 && len(s.NotResource) == 0 {
			return fmt.Errorf("%s: Resource or NotResource is required", where)
		}
		for op, kv := range s.Condition {
			if len(kv) == 0 {
				return fmt.Errorf("%s: condition operator %s has no keys", where, op)
			}
			for k, vals := range kv {
				if k == "" || len(vals) == 0 {
					return fmt.Errorf("%s: condition %s: key %q needs at least one value", where, op, k)
				}
			}
		}
	}
	return nil
}

// Options parameterise the generated documents. The zero value gives
// documents for any account and region in the standard partition. The
// generators do not check options: call Validate first on user input.
type Options struct {
	// Partition is "aws" (default), "aws-cn" or "aws-us-gov".
	Partition string
	// Region scopes resource ARNs; "" means every region ("*").
	Region string
	// Account scopes resource ARNs; "" means every account ("*").
	Account string
	// TagKey and TagValue, when TagKey is set, restrict StartSession,
	// SendSSHPublicKey and OpenTunnel to instances carrying that tag
	// (TagValue may use * and ?; "" means "*", any value).
	TagKey, TagValue string
	// UserTag is the principal tag holding the OS user name; default
	// "userName".
	UserTag string
	// ManagedInstances adds what placing keys on SSM managed (mi-)
	// instances needs: ssm:SendCommand with AWS-RunShellScript on
	// managed instances only, and ssm:GetCommandInvocation. Off by
	// default: IAM cannot limit the script, so it is a root shell there.
	ManagedInstances bool
	// Documents are the SSM session documents users may start sessions
	// with; default DefaultDocuments. Names starting with AWS- are
	// AWS-owned (no account in their ARN); others belong to the account.
	Documents []string
	// LogGroup is the CloudWatch Logs group instances ship their audit
	// events to (host.toml [cloudwatch] log_group); default
	// DefaultLogGroup. "-" leaves shipping out of the instance profile.
	LogGroup string
}

// DefaultLogGroup is the log group of instance events in the docs and the
// sandbox.
const DefaultLogGroup = "/jitssh/instances"

// Session documents jitssh uses.
const (
	// SSHDocument is the document jitssh starts SSH sessions with.
	SSHDocument = "AWS-StartSSHSession"
	// PortForwardingDocument and PortForwardingToHostDocument serve
	// `jitssh tunnel` to the instance and through it to another host.
	PortForwardingDocument       = "AWS-StartPortForwardingSession"
	PortForwardingToHostDocument = "AWS-StartPortForwardingSessionToRemoteHost"
	// RunShellScriptDocument is the Run Command document jitssh sends its
	// key-placement script with to managed (mi-) instances, which EC2
	// Instance Connect does not serve.
	RunShellScriptDocument = "AWS-RunShellScript"
	// ShellDocument is Session Manager's default shell document, used by
	// `jitssh shell`; it is created in each account.
	ShellDocument = "SSM-SessionManagerRunShell"
)

// DefaultDocuments are the documents the user policy allows by default:
// everything jitssh starts sessions with.
var DefaultDocuments = []string{SSHDocument, PortForwardingDocument, PortForwardingToHostDocument, ShellDocument}

// DefaultUserTag is the principal tag that names a user's OS account.
const DefaultUserTag = "userName"

func (o Options) withDefaults() Options {
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if o.Region == "" {
		o.Region = "*"
	}
	if o.Account == "" {
		o.Account = "*"
	}
	if o.UserTag == "" {
		o.UserTag = DefaultUserTag
	}
	if o.TagKey != "" && o.TagValue == "" {
		o.TagValue = "*"
	}
	if len(o.Documents) == 0 {
		o.Documents = DefaultDocuments
	}
	if o.LogGroup == "" {
		o.LogGroup = DefaultLogGroup
	}
	return o
}

var (
	logGroupPattern  = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionPattern    = regexp.MustCompile(`^(\*|[a-z]{2}(-[a-z]+)+-\d+)$`)
	accountPattern   = regexp.MustCompile(`^(\*|\d{12})$`)
	// The tag character sets (AWS's `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, and
	// * ? in values) are checked by validTag without a regexp: compiling
	// the Unicode classes cost every jitssh process about 200 KB and a
	// few milliseconds at start-up (with counted repetitions, 15 MB and
	// half a second).
	// documentNamePattern is SSM's document name pattern.
	// (3 to 128 characters, checked apart: see validDocumentName.)
	documentNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-.]*$`)
)

// validTag reports whether s has min to max characters, each a letter,
// a separator (\p{Z}), a number or one of _ . : / = + - @, or one of
// extra.
func validTag(s string, min, max int, extra string) bool {
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		return false
	}
	for _, r := range s { // invalid UTF-8 is utf8.RuneError, no letter
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Z, r) && !unicode.IsNumber(r) && !strings.ContainsRune("_.:/=+-@"+extra, r) {
			return false
		}
	}
	return true
}

// Validate reports options that would produce a document IAM rejects or
// that does not mean what the user asked.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case !partitionPattern.MatchString(o.Partition):
		return fmt.Errorf("partition %q: want aws, aws-cn or aws-us-gov", o.Partition)
	case !regionPattern.MatchString(o.Region):
		return fmt.Errorf("region %q: want a region name like us-east-1", o.Region)
	case !accountPattern.MatchString(o.Account):
		return fmt.Errorf("account %q: want 12 digits", o.Account)
	case !validTag(o.UserTag, 1, 128, ""):
		return fmt.Errorf("user tag %q is not a valid tag key", o.UserTag)
	case o.TagKey != "" && (!validTag(o.TagKey, 1, 128, "") || strings.HasPrefix(o.TagKey, "aws:")):
		return fmt.Errorf("instance tag key %q is not a valid tag key", o.TagKey)
	case o.TagKey != "" && !validTag(o.TagValue, 0, 256, "*?"):
		return fmt.Errorf("instance tag value %q is not a valid tag value", o.TagValue)
	case o.TagKey == "" && o.TagValue != "":
		return errors.New("an instance tag value needs a tag key")
	}
	if o.LogGroup != "-" && !logGroupPattern.MatchString(o.LogGroup) {
		return fmt.Errorf("log group %q: want a CloudWatch Logs group name like %s", o.LogGroup, DefaultLogGroup)
	}
	for _, d := range o.Documents {
		if !validDocumentName(d) {
			return fmt.Errorf("document name %q: want letters, digits, _, - and . (3 to 128)", d)
		}
	}
	return nil
}

// InstanceARN returns the ARN pattern of the EC2 instances o covers.
func (o Options) InstanceARN() string {
	o = o.withDefaults()
	return fmt.Sprintf("arn:%s:ec2:%s:%s:instance/*", o.Partition, o.Region, o.Account)
}

// ManagedInstanceARN returns the ARN pattern of the SSM managed (hybrid,
// mi-…) instances o covers.
func (o Options) ManagedInstanceARN() string {
	o = o.withDefaults()
	return fmt.Sprintf("arn:%s:ssm:%s:%s:managed-instance/*", o.Partition, o.Region, o.Account)
}

// DocumentARN returns the ARN of an SSM document: AWS-owned documents
// (AWS-…) have no account in their ARN, the account's own do.
func (o Options) DocumentARN(name string) string {
	o = o.withDefaults()
	acct := o.Account
	if strings.HasPrefix(name, "AWS-") {
		acct = ""
	}
	return fmt.Sprintf("arn:%s:ssm:%s:%s:document/%s", o.Partition, o.Region, acct, name)
}

// SessionTagKey is the resource tag Session Manager puts on every session:
// the user id (aws:userid) of the principal that started it.
const SessionTagKey = "aws:ssmmessages:session-id"

// User returns the identity policy a jitssh user needs: start sessions
// through SSM (the documents of o.Documents, by default the SSH, port
// forwarding and shell documents; instances optionally limited by tag), push a key with EC2 Instance Connect only for the OS user named
// by the principal tag, open EC2 Instance Connect Endpoint tunnels to port
// 22, describe instances and endpoints, and end or resume only their own
// sessions.
//
// With o.ManagedInstances it also grants ssm:SendCommand with
// AWS-RunShellScript on managed (mi-) instances only (never on EC2
// instances) and ssm:GetCommandInvocation: jitssh places keys there with a
// Run Command script. IAM has no condition key on the script's text or on
// the OS user, so this is in effect a root shell on those instances, not
// limited to the principal's own OS user as the EC2 Instance Connect push
// is; hence opt-in, and best combined with a TagKey.
func User(o Options) Document {
	o = o.withDefaults()
	self := "${aws:PrincipalTag/" + o.UserTag + "}"
	start := Statement{
		Sid: "StartSessionOnInstances", Effect: Allow,
		Action:   Strings{"ssm:StartSession"},
		Resource: Strings{o.InstanceARN(), o.ManagedInstanceARN()},
	}
	push := Statement{
		Sid: "SendSSHPublicKeyForOwnOSUser", Effect: Allow,
		Action:    Strings{"ec2-instance-connect:SendSSHPublicKey"},
		Resource:  Strings{o.InstanceARN()},
		Condition: Condition{"StringEquals": {"ec2:osuser": {self}}},
	}
	tunnel := Statement{
		Sid: "OpenTunnelToSSHPort", Effect: Allow,
		Action:    Strings{"ec2-instance-connect:OpenTunnel"},
		Resource:  Strings{fmt.Sprintf("arn:%s:ec2:%s:%s:instance-connect-endpoint/*", o.Partition, o.Region, o.Account)},
		Condition: Condition{"NumericEquals": {"ec2-instance-connect:remotePort": {"22"}}},
	}
	docs := make(Strings, len(o.Documents))
	for i, d := range o.Documents {
		docs[i] = o.DocumentARN(d)
	}
	if o.TagKey != "" {
		start.Condition = Condition{"StringLike": {"ssm:resourceTag/" + o.TagKey: {o.TagValue}}}
		push.Condition["StringLike"] = map[string]Strings{"aws:ResourceTag/" + o.TagKey: {o.TagValue}}
	}
	// Key placement on managed instances (SSM Run Command). IAM checks
	// SendCommand against the instance and the document separately, so
	// the two resources are two statements (a tag condition can only
	// apply to the instance).
	place := Statement{
		Sid: "SendKeyPlacementCommandToManagedInstances", Effect: Allow,
		Action:   Strings{"ssm:SendCommand"},
		Resource: Strings{o.ManagedInstanceARN()},
	}
	if o.TagKey != "" {
		place.Condition = Condition{"StringLike": {"ssm:resourceTag/" + o.TagKey: {o.TagValue}}}
	}
	// ec2:DescribeRegions: a scope's regions = ["all"] (--region all)
	// lists the account's enabled regions; iam:ListAccountAliases: ls
	// over a scope shows each account's alias (docs/scopes.md).
	describe := Strings{
		"ec2:DescribeInstanceConnectEndpoints",
		"ec2:DescribeInstances",
		"ec2:DescribeRegions",
		"iam:ListAccountAliases",
		"ssm:DescribeInstanceInformation",
		"sts:GetCallerIdentity",
	}
	var managed []Statement
	if o.ManagedInstances {
		managed = []Statement{place, {
			Sid: "SendCommandWithRunShellScriptOnly", Effect: Allow,
			Action:   Strings{"ssm:SendCommand"},
			Resource: Strings{o.DocumentARN(RunShellScriptDocument)},
		}}
		describe = Strings{describe[0], describe[1], describe[2], describe[3], describe[4], "ssm:GetCommandInvocation", describe[5]}
	}
	statements := []Statement{
		start,
		{
			Sid: "StartSessionWithJitsshDocuments", Effect: Allow,
			Action:   Strings{"ssm:StartSession"},
			Resource: docs,
		},
		{
			Sid: "ManageOwnSessions", Effect: Allow,
			Action:    Strings{"ssm:ResumeSession", "ssm:TerminateSession"},
			Resource:  Strings{fmt.Sprintf("arn:%s:ssm:%s:%s:session/*", o.Partition, o.Region, o.Account)},
			Condition: Condition{"StringLike": {"ssm:resourceTag/" + SessionTagKey: {"${aws:userid}"}}},
		},
		push,
		tunnel,
	}
	statements = append(statements, managed...)
	statements = append(statements, Statement{
		Sid: "DescribeTargets", Effect: Allow, Action: describe, Resource: Strings{"*"},
	})
	return Document{Version: Version, Statement: statements}
}

// SCP returns the service control policy that denies pushing a key for
// any OS user other than the one named by the caller's principal tag, and
// denies it outright to principals without the tag. Attach it to the
// organisation root or the OUs whose accounts run jitssh; it does not
// grant anything.
func SCP(o Options) Document {
	o = o.withDefaults()
	return Document{Version: Version, Statement: []Statement{{
		Sid: "DenySendSSHPublicKeyForOtherOSUsers", Effect: Deny,
		Action:   Strings{"ec2-instance-connect:SendSSHPublicKey"},
		Resource: Strings{"*"},
		Condition: Condition{
			"StringNotEquals": {"ec2:osuser": {"${aws:PrincipalTag/" + o.UserTag + "}"}},
		},
	}, {
		Sid: "DenySendSSHPublicKeyWithoutUserTag", Effect: Deny,
		Action:    Strings{"ec2-instance-connect:SendSSHPublicKey"},
		Resource:  Strings{"*"},
		Condition: Condition{"Null": {"aws:PrincipalTag/" + o.UserTag: {"true"}}},
	}}}
}

// Profile is what an instance needs to be reachable through SSM: a role
// trusted by EC2 with AWS's managed policy for the SSM agent.
type Profile struct {
	// TrustPolicy is the role's assume-role policy document.
	TrustPolicy Document `json:"TrustPolicy"`
	// ManagedPolicyARNs are the managed policies to attach to the role.
	ManagedPolicyARNs []string `json:"ManagedPolicyArns"`
	// Policy is the role's inline policy: shipping the audit events to
	// CloudWatch Logs (InstanceLogs); nil when LogGroup is "-".
	Policy *Document `json:"Policy,omitempty"`
}

// InstanceLogs returns what jitssh-host's shipper needs on o's log group,
// exactly: logs:CreateLogStream (its stream, named after the instance)
// and logs:PutLogEvents, on the group's streams.
func InstanceLogs(o Options) Document {
	o = o.withDefaults()
	return Document{Version: Version, Statement: []Statement{{
		Sid: "ShipInstanceEvents", Effect: Allow,
		Action:   Strings{"logs:CreateLogStream", "logs:PutLogEvents"},
		Resource: Strings{fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", o.Partition, o.Region, o.Account, o.LogGroup)},
	}}}
}

// JSON returns p as indented JSON followed by a newline.
func (p Profile) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p)
	return buf.Bytes()
}

// InstanceProfile returns the instance profile for o's partition.
func InstanceProfile(o Options) Profile {
	o = o.withDefaults()
	var logs *Document
	if o.LogGroup != "-" {
		d := InstanceLogs(o)
		logs = &d
	}
	svc := "ec2.amazonaws.com"
	if o.Partition == "aws-cn" {
		svc = "ec2.amazonaws.com.cn"
	}
	return Profile{
		TrustPolicy: Document{Version: Version, Statement: []Statement{{
			Sid: "EC2AssumesInstanceRole", Effect: Allow,
			Principal: &Principal{Service: Strings{svc}},
			Action:    Strings{"sts:AssumeRole"},
		}}},
		ManagedPolicyARNs: []string{fmt.Sprintf("arn:%s:iam::aws:policy/AmazonSSMManagedInstanceCore", o.Partition)},
		Policy:            logs,
	}
}

// FullAWSAccess returns the SCP AWS Organizations attaches to every root,
// OU and account by default; deny SCPs such as SCP take permissions away
// from it.
func FullAWSAccess() Document {
	return Document{Version: Version, Statement: []Statement{{
		Sid: "FullAWSAccess", Effect: Allow, Action: Strings{"*"}, Resource: Strings{"*"},
	}}}
}

// AdministratorAccess returns AWS's AdministratorAccess managed policy.
func AdministratorAccess() Document {
	return Document{Version: Version, Statement: []Statement{{
		Effect: Allow, Action: Strings{"*"}, Resource: Strings{"*"},
	}}}
}

// validDocumentName is SSM's `^[a-zA-Z0-9_\-.]{3,128}$` with the length
// checked apart: the counted repetition compiled at every process start.
func validDocumentName(d string) bool {
	return len(d) >= 3 && len(d) <= 128 && documentNamePattern.MatchString(d)
}
