package config

import "strings"

// BuiltinOrgText is the built-in organization (`jitssh-sandbox up --org`,
// `jitssh-sandbox config --org`): the built-in account as its management
// account, in us-east-1 and us-west-2 (ap-east-1 an opt-in region not
// enabled), with three member accounts reached through
// OrganizationAccountAccessRole (AWS profiles dev, prod, audit) and the
// first Identity Center user (profiles sso-dev, sso-prod); every account
// has an IAM alias, jitssh-<name> (jitssh-management for the management
// account):
//
//   - dev (210987654321): web-1 in us-east-1, API-only (the name is also
//     the management account's web-1: ambiguous across accounts), and
//     api-west-1 in us-west-2, a real instance (sshd, SSM agent online)
//     in a VPC with an EC2 Instance Connect Endpoint;
//   - prod (345678901234): API-only instances in both regions;
//   - audit (456789012345): its SCP denies ec2:DescribeInstances, so
//     listing it fails with AccessDenied while the others answer.
var BuiltinOrgText = strings.Replace(strings.Replace(BuiltinText,
	"account = \"123456789012\"\n", "account = \"123456789012\"\nalias = \"jitssh-management\" # IAM account alias (iam:ListAccountAliases)\n", 1),
	`assignments = [{ permission_set = "JitsshUser" }, { permission_set = "AdministratorAccess" }]`,
	`assignments = [{ permission_set = "JitsshUser" }, { permission_set = "AdministratorAccess" },
  { account = "210987654321", permission_set = "JitsshUser" }, { account = "345678901234", permission_set = "JitsshUser" }]`, 1) + `
# An AWS Organization (jitssh-sandbox up --org): this account is its
# management account; every member has OrganizationAccountAccessRole,
# trusting it, which the AWS profiles dev, prod and audit assume.
[policies.deny-ec2-describe]
document = """
{"Version": "2012-10-17", "Statement": [{"Sid": "NoListing", "Effect": "Deny",
  "Action": "ec2:DescribeInstances", "Resource": "*"}]}
"""

[organization]
regions = ["us-east-1", "us-west-2"]
disabled_regions = ["ap-east-1"]

[[organization.regional]]
region = "us-west-2"

[[organization.regional.instances]]
id = "i-0b1b2c3d4e5f00001"
name = "web-west-1"
private_ip = "10.10.1.11"
vpc_id = "vpc-0b1b2c3d4e5f60001"
subnet_id = "subnet-0b1b2c3d4e5f60001"
virtual = true

[[organization.accounts]]
account = "210987654321"
name = "dev"
alias = "jitssh-dev"

[[organization.accounts.instances]]
id = "i-0d1b2c3d4e5f00001"
name = "web-1"
private_ip = "10.20.1.11"
vpc_id = "vpc-0d1b2c3d4e5f60001"
subnet_id = "subnet-0d1b2c3d4e5f60001"
virtual = true

[[organization.accounts.organization.regional]]
region = "us-west-2"

[[organization.accounts.organization.regional.vpcs]]
id = "vpc-0d1b2c3d4e5f60002"
cidr = "10.21.0.0/16"

[[organization.accounts.organization.regional.subnets]]
id = "subnet-0d1b2c3d4e5f60002"
vpc_id = "vpc-0d1b2c3d4e5f60002"
cidr = "10.21.1.0/24"

[[organization.accounts.organization.regional.endpoints]]
id = "eice-0d1b2c3d4e5f60002"
subnet_id = "subnet-0d1b2c3d4e5f60002"

[[organization.accounts.organization.regional.instances]]
id = "i-0d1b2c3d4e5f00002"
name = "api-west-1"
private_ip = "10.21.1.11"

[[organization.accounts]]
account = "345678901234"
name = "prod"
alias = "jitssh-prod"

[[organization.accounts.instances]]
id = "i-0e1b2c3d4e5f00001"
name = "prod-east-1"
private_ip = "10.30.1.11"
vpc_id = "vpc-0e1b2c3d4e5f60001"
subnet_id = "subnet-0e1b2c3d4e5f60001"
virtual = true

[[organization.accounts.organization.regional]]
region = "us-west-2"

[[organization.accounts.organization.regional.instances]]
id = "i-0e1b2c3d4e5f00002"
name = "prod-west-1"
private_ip = "10.31.1.11"
vpc_id = "vpc-0e1b2c3d4e5f60002"
subnet_id = "subnet-0e1b2c3d4e5f60002"
virtual = true

[[organization.accounts]]
account = "456789012345"
name = "audit"
alias = "jitssh-audit"
scps = ["FullAWSAccess", "deny-ec2-describe"]

[[organization.accounts.instances]]
id = "i-0f1b2c3d4e5f00001"
name = "audit-1"
private_ip = "10.40.1.11"
vpc_id = "vpc-0f1b2c3d4e5f60001"
subnet_id = "subnet-0f1b2c3d4e5f60001"
virtual = true
`

// BuiltinOrg returns the built-in organization's configuration.
func BuiltinOrg() *File {
	f, err := Parse([]byte(BuiltinOrgText), "")
	if err != nil {
		panic("config: built-in organization: " + err.Error())
	}
	return f
}
