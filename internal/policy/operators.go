package policy

import "fmt"

// Auditor returns the identity policy of who reads the access timeline
// (docs/audit.md): CloudTrail's LookupEvents (which has no resource-level
// permissions), FilterLogEvents on o's log group only, and what a scope
// needs (the enabled regions of an account for --region all, the caller's
// account to pace LookupEvents per account and region). Nothing in it
// changes anything.
func Auditor(o Options) Document {
	o = o.withDefaults()
	return Document{Version: Version, Statement: []Statement{{
		Sid: "LookupAccessCalls", Effect: Allow,
		Action:   Strings{"cloudtrail:LookupEvents"},
		Resource: Strings{"*"},
	}, {
		Sid: "ReadInstanceEvents", Effect: Allow,
		Action:   Strings{"logs:FilterLogEvents"},
		Resource: Strings{o.LogGroupARN()},
	}, {
		Sid: "DescribeScope", Effect: Allow,
		Action:   Strings{"ec2:DescribeRegions", "sts:GetCallerIdentity"},
		Resource: Strings{"*"},
	}}}
}

// LogGroupARN returns the ARN of o's log group's streams, as CloudWatch
// Logs' actions on events name it.
func (o Options) LogGroupARN() string {
	o = o.withDefaults()
	return fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", o.Partition, o.Region, o.Account, o.LogGroup)
}

// Revoker returns the identity policy of who revokes a person's access
// (docs/incident.md): put and remove the deny (a service control policy
// of the organisation, from its management account; or an inline policy
// of the roles the person uses: IAM has no condition key on an inline
// policy's name, so any of the account's roles), end the person's SSM
// sessions (TerminateSession of any session: the person's are not the
// caller's), block and kill the person on the instances with Run Command
// (AWS-RunShellScript only, on instances limited by o's tag when set:
// in effect a root shell there, as for managed instances in User), and
// read what that needs.
func Revoker(o Options) Document {
	o = o.withDefaults()
	run := Statement{
		Sid: "BlockAndKillOnInstances", Effect: Allow,
		Action:   Strings{"ssm:SendCommand"},
		Resource: Strings{o.InstanceARN(), o.ManagedInstanceARN()},
	}
	if o.TagKey != "" {
		run.Condition = Condition{"StringLike": {"ssm:resourceTag/" + o.TagKey: {o.TagValue}}}
	}
	return Document{Version: Version, Statement: []Statement{{
		Sid: "DenyInTheOrganization", Effect: Allow,
		Action: Strings{"organizations:AttachPolicy", "organizations:CreatePolicy", "organizations:DeletePolicy", "organizations:DescribePolicy",
			"organizations:DetachPolicy", "organizations:ListPolicies", "organizations:ListRoots", "organizations:UpdatePolicy"},
		Resource: Strings{"*"},
	}, {
		Sid: "DenyInRoles", Effect: Allow,
		Action:   Strings{"iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:PutRolePolicy"},
		Resource: Strings{fmt.Sprintf("arn:%s:iam::%s:role/*", o.Partition, o.Account)},
	}, {
		Sid: "EndSessions", Effect: Allow,
		Action:   Strings{"ssm:TerminateSession"},
		Resource: Strings{fmt.Sprintf("arn:%s:ssm:%s:%s:session/*", o.Partition, o.Region, o.Account)},
	}, run, {
		Sid: "BlockAndKillWithRunShellScriptOnly", Effect: Allow,
		Action:   Strings{"ssm:SendCommand"},
		Resource: Strings{o.DocumentARN(RunShellScriptDocument)},
	}, {
		Sid: "FindSessionsInstancesAndResults", Effect: Allow,
		Action: Strings{"ec2:DescribeInstances", "ec2:DescribeRegions", "ssm:DescribeInstanceInformation", "ssm:DescribeSessions",
			"ssm:GetCommandInvocation", "ssm:ListCommandInvocations", "sts:GetCallerIdentity"},
		Resource: Strings{"*"},
	}}}
}
