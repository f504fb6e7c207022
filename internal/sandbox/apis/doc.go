// Package apis serves the sandbox's emulated AWS control-plane APIs on one
// HTTP endpoint, for the real AWS SDK for Go v2 and the real aws CLI
// pointed at it with AWS_ENDPOINT_URL:
//
//   - STS GetCallerIdentity, AssumeRole, GetSessionToken and
//     AssumeRoleWithWebIdentity (AWS query protocol; sts*.go): role trust
//     policies, MFA codes of the world's virtual devices, session tags,
//     and tokens of the sandbox's OIDC issuer (Options.OIDC),
//   - EC2 DescribeInstances (EC2 query protocol),
//   - EC2 Instance Connect SendSSHPublicKey (AWS JSON 1.1),
//   - SSM StartSession, ResumeSession, TerminateSession,
//     DescribeInstanceInformation, SendCommand and GetCommandInvocation
//     (AWS JSON 1.1),
//   - IAM SimulatePrincipalPolicy (AWS query protocol), with package iam.
//
// Every request but AssumeRoleWithWebIdentity (unsigned, as on AWS) must
// carry a valid SigV4 signature by one of the world's identities, or by
// temporary credentials with their session token; requests are routed by the service in the credential scope
// and then by Action or X-Amz-Target. Errors use each protocol's envelope
// and AWS's codes (see awsproto). State lives in world.World; this package
// owns only the translation between the wire and the world.
//
// Every operation but GetCallerIdentity and GetSessionToken (which need no
// permission on AWS either) is authorised with package iam
// against the caller's identity policies and the account's SCPs, on the
// resource ARN and condition keys AWS uses (ec2:osuser, resource tags,
// the session owner tag); denials carry each service's code and AWS's
// message form. Every request is recorded in the CloudTrail log (package
// trail) when one is configured. It does not serve the SSM data channel
// websocket or IMDS; those belong to other sandbox packages. Behaviour follows
// /work/shared/design/specs/ssm-protocol.md §1 and eic-spec.md §2 and the
// services' API models.
package apis
