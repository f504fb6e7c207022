package awsapi

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// GenerateDataKey calls kms:GenerateDataKey for n bytes under keyID (a key
// id, key ARN, alias or alias ARN) with the encryption context encCtx, and
// returns the plaintext key and its ciphertext blob: the client's side of
// a KMS-encrypted SSM session (datachannel.DataKeyFunc). It uses the same
// credentials, configuration and HTTP transport as the other calls.
func (c *Client) GenerateDataKey(ctx context.Context, keyID string, n int, encCtx map[string]string) (plaintext, blob []byte, err error) {
	out, err := c.kms().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(keyID),
		NumberOfBytes:     aws.Int32(int32(n)),
		EncryptionContext: encCtx,
	})
	if err != nil {
		err = explain("kms:GenerateDataKey", err)
		var ae *APIError
		if errors.As(err, &ae) {
			switch {
			case strings.Contains(ae.Code, "AccessDenied"):
				ae.Advice, ae.Fix = "the account's Session Manager preferences encrypt shell sessions with KMS key "+keyID+
					": your IAM identity needs kms:GenerateDataKey on it (allowed by an IAM policy, with a key policy that delegates to the account, or by the key policy itself)", FixNone
			case ae.Code == "NotFoundException":
				ae.Advice = "the account's Session Manager preferences name KMS key " + keyID + ", which does not exist in this region: an administrator must fix the preferences (kmsKeyId)"
			}
		}
		return nil, nil, err
	}
	return out.Plaintext, out.CiphertextBlob, nil
}
