// Package eickey owns the EC2 Instance Connect key blob: the text IMDS serves
// at managed-ssh-keys/active-keys/<user>/, its parsing under hard limits, the
// per-entry verification an AuthorizedKeysCommand must do, and (for the
// sandbox) the inverse, signing and formatting a blob exactly as AWS does.
//
// The format, what is signed and the signature algorithm come from AWS's
// reference scripts (aws/aws-ec2-instance-connect-config,
// eic_parse_authorized_keys and bin/unit-test/sign_data.sh), summarised in
// the design notes' specs/eic-spec.md §1.3 and §1.5. One entry is
//
//	#Timestamp=<expiry, unix seconds>
//	#Instance=<instance id>
//	#Caller=<IAM principal ARN>
//	#Request=<request id>
//	<OpenSSH public key line>
//	<base64 RSASSA-PSS signature, wrapped at 76 columns>
//	<blank line>
//
// The signed bytes are every metadata ("#...") line followed by "\n", then the
// key line followed by "\n". The signature is RSASSA-PSS with SHA-256, MGF1
// SHA-256 and a 32-byte salt, made by the key of the signer certificate that
// IMDS serves at managed-ssh-keys/signer-cert/.
//
// Unlike AWS's shell script, every entry is judged on its own: one malformed
// or tampered entry never hides the valid ones, and every rejection carries a
// stable [Reason]. The cost of a request is bounded without refusing the
// whole blob: [Parse] reads at most MaxBodySize bytes (dropping the entries
// past them), a line over MaxLineLength spoils only its entry, and [Newest]
// picks the at most MaxVerify newest well-formed entries for the offered key
// whose signatures are worth checking. So a valid entry is served unless
// more than MaxVerify newer valid entries for the same key exist (which
// then serve that key anyway) or it starts past MaxBodySize bytes of a
// blob that someone filled (see docs/security.md). This package does not fetch anything and does not decide
// whether the signer certificate is trustworthy; that is the caller's job
// (see internal/host/authkeys).
package eickey
