package config

// BuiltinText is the built-in configuration, as a file would write it.
// The default identity's session name is the local user's, so jitssh logs
// in as the local user out of the box.
const BuiltinText = `# The jitssh sandbox's built-in account.
region = "us-east-1"
account = "123456789012"
scps = ["FullAWSAccess", "jitssh-scp"]

# The default identity (credentials in the env file): a developer whose role
# session name, and userName principal tag, is the local user's name
# ("developer" when the sandbox runs as root: never root).
[[identities]]
name = "default"
role = "JitsshDeveloper"
access_key_id = "AKIAJITSSHSANDBOX001"
policies = ["jitssh-user"]

[[identities]]
name = "alice"
role = "JitsshDeveloper"
session_name = "alice"
access_key_id = "AKIAJITSSHSANDBOX002"
policies = ["jitssh-user"]

# No policies at all: denied everything but sts:GetCallerIdentity.
[[identities]]
name = "nopolicy"
type = "user"
user = "nopolicy"
access_key_id = "AKIAJITSSHSANDBOX003"

# Administrator: allowed everything the SCP does not deny.
[[identities]]
name = "admin"
role = "Admin"
session_name = "admin"
access_key_id = "AKIAJITSSHSANDBOX004"
policies = ["AdministratorAccess"]

# An IAM user with long-term keys and a virtual MFA device (its TOTP
# secret is made per sandbox and kept in the state directory:
# jitssh-sandbox ctl mfa-code mfa prints the current code). Carol may only
# get temporary credentials; her work is done in the JitsshAdminMFA role.
[[identities]]
name = "carol"
type = "user"
user = "carol"
access_key_id = "AKIAJITSSHSANDBOX005"
mfa = true
policies = ["carol-sts"]

[policies.carol-sts]
document = """
{"Version": "2012-10-17", "Statement": [{"Sid": "TemporaryCredentialsOnly", "Effect": "Allow",
  "Action": ["sts:AssumeRole", "sts:GetSessionToken", "sts:GetCallerIdentity"], "Resource": "*"}]}
"""

[policies.carol-mfa-trust]
document = """
{"Version": "2012-10-17", "Statement": [{"Sid": "CarolWithMFA", "Effect": "Allow",
  "Principal": {"AWS": "arn:aws:iam::123456789012:user/carol"}, "Action": "sts:AssumeRole",
  "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}
"""

# The classic MFA-protected role: trusted by carol only with MFA; its
# sessions are jitssh users whose userName principal tag is carol, so the
# impersonation SCP holds. The AWS config's profile "mfa" assumes it
# (role_arn, source_profile = carol, mfa_serial).
[[roles]]
name = "JitsshAdminMFA"
trust = "carol-mfa-trust"
policies = ["jitssh-user"]
tags = { userName = "carol" }
profile = "mfa"
source_profile = "carol"
use_mfa = true

# The instance role of web-2 (its instance profile): IMDS serves its
# credentials, with which web-2's jitssh-host ships its audit events to
# CloudWatch Logs; its policy is the instance profile's inline one.
[[roles]]
name = "JitsshInstance"
trust = """{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}"""
policies = ["jitssh-instance"]

# A role for workloads signed in by the sandbox's OIDC issuer
# (AssumeRoleWithWebIdentity): the profile "webid" reads a token the
# sandbox writes and refreshes; ctl web-identity-token prints others.
[[roles]]
name = "JitsshWebIdentity"
policies = ["jitssh-user"]
tags = { userName = "ci" }
profile = "webid"
[roles.web_identity]
subject = "jitssh-sandbox-workload"
audience = "sts.amazonaws.com"

# The network: one VPC with a public and a private subnet. Public
# instances get a loopback "public" IP (127.X.Y.n) at start, where their
# SSH server listens: the sandbox's internet is loopback.
[[vpcs]]
id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.0.0/16"

[[subnets]]
id = "subnet-0a1b2c3d4e5f60001"
vpc_id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.1.0/24"
public = true

[[subnets]]
id = "subnet-0a1b2c3d4e5f60002"
vpc_id = "vpc-0a1b2c3d4e5f60001"
cidr = "10.0.2.0/24"

# An EC2 Instance Connect Endpoint in the private subnet: the websocket
# tunnel (/openTunnel) reaches port 22 of any instance in the VPC.
[[endpoints]]
id = "eice-0a1b2c3d4e5f60001"
subnet_id = "subnet-0a1b2c3d4e5f60002"

[[instances]]
id = "i-0a1b2c3d4e5f00001"
name = "web-1"
private_ip = "10.0.1.11"
public = true

# Just-in-time users: its sshd creates any user with a valid pushed key on
# first login (jitssh-sandbox up runs jitssh-host userdb for it as root,
# with nss-systemd), e.g. ssh alice@web-2 with the alice profile.
[[instances]]
id = "i-0a1b2c3d4e5f00002"
name = "web-2"
private_ip = "10.0.1.12"
public = true
jit = true
jit_groups = ["users"]
# Its audit events (keys served, users created, sessions opened and
# closed) go to the sandbox's CloudWatch Logs, stream i-0a1b2c3d4e5f00002.
role = "JitsshInstance"
log_group = "/jitssh/instances"

[[instances]]
id = "i-0a1b2c3d4e5f00003"
name = "db-1"
private_ip = "10.0.2.21"

# A bastion: ssh -J bastion-1 reaches the private instances.
[[instances]]
id = "i-0a1b2c3d4e5f00004"
name = "bastion-1"
private_ip = "10.0.1.10"
public = true
bastion = true

# SSM agent offline: reachable only through the endpoint or the bastion.
[[instances]]
id = "i-0a1b2c3d4e5f00005"
name = "app-1"
private_ip = "10.0.2.31"
ssm = "offline"

[[instances]]
id = "i-0a1b2c3d4e5f00006"
name = "old-1"
private_ip = "10.0.2.41"
state = "stopped"

# An image without EC2 Instance Connect: SendSSHPublicKey succeeds (EC2
# cannot tell), but its sshd never asks for pushed keys.
[[instances]]
id = "i-0a1b2c3d4e5f00008"
name = "legacy-1"
private_ip = "10.0.2.51"
eic = false

# An on-premises server registered with SSM (a hybrid activation): SSM
# lists it and opens sessions to it; EC2 and EC2 Instance Connect do not
# know it.
[[managed_instances]]
id = "mi-0a1b2c3d4e5f00001"
name = "onprem-1"
ip_address = "192.168.10.21"

# IAM Identity Center (SSO): the AWS config's profile "sso" signs in to it
# (device codes are approved with jitssh-sandbox ctl sso approve).
# Its first user is named like the default identity's role session (the
# local user; "developer" as root), so the role session GetRoleCredentials
# opens has that name and userName tag, and jitssh's OS user exists on
# every instance. dave is a second user (with the jitssh-user policy he may
# push keys only for the OS user dave: the impersonation rules hold for SSO
# users too).
[[permission_sets]]
name = "JitsshUser"
policies = ["jitssh-user"]
session_duration = "1h"

[[permission_sets]]
name = "AdministratorAccess"
policies = ["AdministratorAccess"]

[[sso_users]]
assignments = [{ permission_set = "JitsshUser" }, { permission_set = "AdministratorAccess" }]

[[sso_users]]
user_name = "dave"
email = "dave@example.com"
assignments = [{ permission_set = "JitsshUser" }]
`

// Builtin returns the built-in configuration.
func Builtin() *File {
	f, err := Parse([]byte(BuiltinText), "")
	if err != nil {
		panic("config: built-in configuration: " + err.Error())
	}
	return f
}
