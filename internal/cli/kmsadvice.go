package cli

import (
	"errors"
	"fmt"

	"github.com/jitssh/jitssh/internal/datachannel"
)

// kmsAdvice words a KMS-encrypted shell session whose data key could not
// be had: which key, what `jitssh shell` needs, and that SSH is not
// affected; "" for other errors.
func kmsAdvice(err error) string {
	var k *datachannel.KMSError
	if !errors.As(err, &k) {
		return ""
	}
	return fmt.Sprintf("\n  `jitssh shell` needs kms:GenerateDataKey on KMS key %s for your identity: Session Manager encrypts shell sessions with it."+
		"\n  `jitssh ssh` is not affected: SSH and port-forwarding sessions are not KMS-encrypted", k.KeyID)
}
