// Package awsproto owns the wire-level pieces the sandbox's AWS API
// emulation shares between services: verification of AWS Signature Version 4
// (header form, as sent by the AWS SDK for Go v2 and botocore), strict
// parsing of AWS query-protocol form bodies (indexed lists and EC2 filters),
// and the error and response envelopes of the three protocols the sandbox
// speaks — AWS JSON 1.1 (SSM, EC2 Instance Connect), the EC2 query protocol
// and the AWS query protocol (STS).
//
// It knows nothing about instances, sessions or keys; the service handlers
// in package apis do. It deliberately does not support presigned (query
// string) SigV4, SigV4a, chunked payload signing or session tokens: the
// sandbox issues long-term keys only, and anything else is refused.
//
// Sources: the SigV4 documentation ("Create a signed AWS API request"), the
// signer in aws-sdk-go-v2 aws/signer/v4 and botocore's auth.py, and the
// error shapes parsed by smithy-go's awsjson, awsquery and ec2query
// protocols.
package awsproto
