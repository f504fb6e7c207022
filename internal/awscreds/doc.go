// Package awscreds keeps the temporary AWS credentials jitssh obtains
// for role profiles: the MFA code prompt on the controlling terminal
// (never stdin or stdout, which are ssh's connection under
// ProxyCommand), the on-disk cache shared with the AWS CLI
// (~/.aws/cli/cache/<botocore's key>.json), and the lock that makes
// concurrent proxies prompt once. It imports no AWS SDK package:
// internal/awsapi connects it to the SDK's AssumeRole provider.
package awscreds
