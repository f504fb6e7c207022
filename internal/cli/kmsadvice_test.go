package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jitssh/jitssh/internal/awsapi"
	"github.com/jitssh/jitssh/internal/datachannel"
)

// TestKMSAdvice: a refused data key of an encrypted shell session is
// worded with the key, the permission, the library's advice in AWS's
// terms, and that ssh is not affected.
func TestKMSAdvice(t *testing.T) {
	api := &awsapi.APIError{Action: "kms:GenerateDataKey", Code: "AccessDeniedException", Message: "User: x is not authorized",
		Advice: "the account's Session Manager preferences encrypt shell sessions with KMS key alias/k: your IAM identity needs kms:GenerateDataKey on it"}
	err := fmt.Errorf("session s-1: %w", &datachannel.KMSError{KeyID: "alias/k", Err: api})
	got := advise(err).Error()
	for _, want := range []string{
		"session s-1: KMS data key for the session's key alias/k: kms:GenerateDataKey failed: AccessDeniedException: User: x is not authorized",
		"\n  the account's Session Manager preferences encrypt shell sessions with KMS key alias/k",
		"\n  `jitssh shell` needs kms:GenerateDataKey on KMS key alias/k for your identity",
		"\n  `jitssh ssh` is not affected",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("advice lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "jitssh policy user") {
		t.Errorf("advice points at the jitssh user policy, which has no KMS permission:\n%s", got)
	}
}
