package sandbox

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/jitssh/jitssh/internal/datachannel"
	"github.com/jitssh/jitssh/internal/sandbox/agent"
	"github.com/jitssh/jitssh/internal/sandbox/config"
	"github.com/jitssh/jitssh/internal/sandbox/kms"
	"github.com/jitssh/jitssh/internal/sandbox/trail"
	"github.com/jitssh/jitssh/internal/sandbox/world"
)

// instanceRole is the role name the sandbox's instances' CloudTrail
// records carry (AWS's Quick Setup default instance role).
const instanceRole = "AmazonSSMRoleForInstancesQuickSetup"

// setupKMS makes the account's KMS and completes the agent's Session
// Manager preferences from the account: its KMS key, Run As and shell
// profile.
func (sb *Sandbox) setupKMS(acct *config.Account) error {
	svc, err := kms.New(acct.Region, acct.Account, acct.KMSKeys)
	if err != nil {
		return err
	}
	sb.kms = svc
	sb.shellPrefs = agent.Preferences{
		KMSKeyID:         acct.SessionKMSKey,
		RunAsEnabled:     acct.RunAs.Enabled,
		RunAsDefaultUser: acct.RunAs.DefaultUser,
		ShellProfile:     acct.ShellProfile,
	}
	return nil
}

// decryptSessionKey is the agent's kms:Decrypt of an encrypted session's
// data key, with the session's encryption context (and the agent's
// random challenge, if the client acknowledged it), recorded in
// CloudTrail as the instance's call. The instance role's permissions are
// not modelled: the agent's Decrypt is not checked against the key
// policy.
func (sb *Sandbox) decryptSessionKey(tl *trail.Log, sess *world.Session, keyID string, blob []byte, challenge string) ([]byte, error) {
	encCtx := datachannel.EncryptionContext(sess.ID, sess.Target)
	if challenge != "" {
		encCtx[datachannel.ContextRandomChallenge] = challenge
	}
	start := time.Now()
	k, err := sb.kms.Resolve(keyID)
	var plain []byte
	if err == nil {
		plain, err = sb.kms.Decrypt(blob, encCtx)
	}
	e := trail.New(start, "kms", "Decrypt", sb.World.Region, sb.World.Account)
	arn := "arn:aws:sts::" + sb.World.Account + ":assumed-role/" + instanceRole + "/" + sess.Target
	e.UserIdentity = trail.UserIdentity{Type: "AssumedRole", ARN: arn, AccountID: sb.World.Account, PrincipalID: "AROASANDBOXINSTANCE:" + sess.Target}
	e.SourceIPAddress, e.UserAgent = sess.Target, "amazon-ssm-agent/"+agent.Version
	e.RequestID, e.EventID = uuid.NewString(), uuid.NewString()
	params := map[string]any{"encryptionContext": encCtx, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
	if err == nil {
		params["keyId"] = sb.kms.ARN(k.ID)
	} else {
		e.ErrorCode, e.ErrorMessage = "InvalidCiphertextException", ""
	}
	e.RequestParameters = params
	if tl != nil {
		if werr := tl.Write(e); werr != nil {
			sb.log.Error("CloudTrail", "err", werr)
		}
	}
	return plain, err
}

// agentDecryptKey adapts decryptSessionKey to the agent's hook.
func (sb *Sandbox) agentDecryptKey(tl *trail.Log) func(context.Context, *world.Session, string, []byte, string) ([]byte, error) {
	return func(_ context.Context, sess *world.Session, keyID string, blob []byte, challenge string) ([]byte, error) {
		return sb.decryptSessionKey(tl, sess, keyID, blob, challenge)
	}
}
