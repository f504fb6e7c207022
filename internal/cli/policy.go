package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jitssh/jitssh/internal/policy"
)

// policyOptions is `jitssh policy` after flag parsing.
type policyOptions struct {
	IO        IOStreams
	Document  string // user, scp, instance, auditor or revoker
	Policy    policy.Options
	TrustOnly bool // instance: the trust policy alone
}

// policyFlags are policy's flags as given (the rest go to policy.Options).
type policyFlags struct {
	tag       string
	trustOnly bool
}

// policyOptionsFrom checks the flags and builds the options.
func policyOptionsFrom(doc string, po policy.Options, region string, f policyFlags) (policyOptions, error) {
	o := policyOptions{Document: doc, Policy: po, TrustOnly: f.trustOnly}
	o.Policy.Region = region
	if f.tag != "" {
		k, v, ok := strings.Cut(f.tag, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("--instance-tag %q: want KEY=VALUE (VALUE may use * and ?)", f.tag)
		}
		o.Policy.TagKey, o.Policy.TagValue = k, v
	}
	if err := o.Policy.Validate(); err != nil {
		return o, err
	}
	if f.trustOnly && doc != "instance" {
		return o, fmt.Errorf("--trust-policy applies to the instance document only")
	}
	return o, nil
}

// policyLong is policy's help text.
const policyLong = `policy prints one of the IAM documents jitssh is built around, on stdout:

  user      the identity policy for people who use jitssh: start SSM
            sessions with jitssh's documents (SSH, port forwarding, shell),
            push a key with EC2 Instance Connect only for the OS user named
            by their principal tag (--user-tag, default userName), open
            EC2 Instance Connect Endpoint tunnels to port 22, describe
            instances (and, for scopes, the enabled regions and the
            account's alias), and resume or end only their own sessions.
  scp       the service control policy that denies pushing a key for any
            other OS user, or without the principal tag: attach it to the
            organisation root or the OUs whose accounts run jitssh.
  instance  what instances need to be reachable through SSM: the role's
            trust policy and the managed policy to attach
            (--trust-policy prints the trust policy alone), and the inline
            policy letting jitssh-host ship its audit events to CloudWatch
            Logs: logs:CreateLogStream and logs:PutLogEvents on the log
            group (--log-group, default /jitssh/instances; - for none).
  auditor   what jitssh audit needs: cloudtrail:LookupEvents,
            logs:FilterLogEvents on the log group (--log-group), and
            ec2:DescribeRegions and sts:GetCallerIdentity for scopes.
            It changes nothing.
  revoker   what jitssh revoke (and --undo) needs: the deny as an SCP
            (organizations:CreatePolicy, AttachPolicy, ... from the
            management account) or as an inline policy of roles
            (iam:PutRolePolicy, DeleteRolePolicy, ...), ssm:DescribeSessions
            and TerminateSession, ssm:SendCommand with AWS-RunShellScript
            (on instances with --instance-tag when given: a root shell
            there), and the command results.

Nothing is sent to AWS. Without scoping flags the documents cover every
account and region; --region (the global flag), --account and
--instance-tag narrow them. Error messages from jitssh name the
"jitssh policy" command that grants a missing permission.`

func newPolicyCmd(g *globals, runF func(*policyOptions) error) *cobra.Command {
	var po policy.Options
	var f policyFlags
	cmd := &cobra.Command{
		Use:       "policy user|scp|instance|auditor|revoker",
		Short:     "Print the IAM policies jitssh needs, as JSON ready to paste",
		ValidArgs: []string{"user", "scp", "instance", "auditor", "revoker"},
		Long:      policyLong,
		Example: `  jitssh policy user > jitssh-user.json
  aws iam create-policy --policy-name jitssh-user --policy-document file://jitssh-user.json
  jitssh policy user --account 111122223333 --region eu-west-1 --instance-tag jitssh=enabled
  jitssh policy user --document AWS-StartSSHSession      # SSH only: no tunnels, no shell
  jitssh policy scp > jitssh-scp.json
  jitssh policy auditor --account 111122223333 > jitssh-auditor.json
  jitssh policy instance --trust-policy > trust.json
  aws iam create-role --role-name jitssh-instance --assume-role-policy-document file://trust.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("name one document: user, scp, instance, auditor or revoker")
			}
			switch args[0] {
			case "user", "scp", "instance", "auditor", "revoker":
				return nil
			}
			return fmt.Errorf("unknown document %q: use user, scp, instance, auditor or revoker", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := policyOptionsFrom(args[0], po, g.region, f)
			if err != nil {
				return err
			}
			o.IO = g.io
			if runF != nil {
				return runF(&o)
			}
			return runPolicy(&o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&po.Account, "account", "", "scope resource ARNs to this 12-digit account (default: any)")
	fl.StringVar(&po.Partition, "partition", "", "aws (default), aws-cn or aws-us-gov")
	fl.StringVar(&f.tag, "instance-tag", "", "allow only instances with this tag, KEY=VALUE (VALUE may use * and ?)")
	fl.StringVar(&po.UserTag, "user-tag", "", "principal tag naming each user's OS account (default userName)")
	fl.StringSliceVar(&po.Documents, "document", nil, "SSM session documents users may start (repeatable; default: SSH, port forwarding, shell)")
	fl.BoolVar(&f.trustOnly, "trust-policy", false, "instance: print only the role's trust policy document")
	fl.StringVar(&po.LogGroup, "log-group", "", "instance, auditor: the CloudWatch Logs group jitssh-host ships its events to (default "+policy.DefaultLogGroup+"; - for none)")
	fl.BoolVar(&po.ManagedInstances, "managed-instances", false, "user: also allow placing keys on SSM managed (mi-) instances (ssm:SendCommand with AWS-RunShellScript: a root shell there)")
	return cmd
}

// runPolicy prints the document, as JSON, on stdout.
func runPolicy(o *policyOptions) error {
	var out []byte
	switch o.Document {
	case "user":
		out = policy.User(o.Policy).JSON()
	case "scp":
		out = policy.SCP(o.Policy).JSON()
	case "auditor":
		out = policy.Auditor(o.Policy).JSON()
	case "revoker":
		out = policy.Revoker(o.Policy).JSON()
	case "instance":
		p := policy.InstanceProfile(o.Policy)
		out = p.JSON()
		if o.TrustOnly {
			out = p.TrustPolicy.JSON()
		}
	}
	_, err := o.IO.Out.Write(out)
	return err
}
