package datachannel

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode"
)

// KMS encryption of a session's stream (Session Manager's "KMS encryption"
// preference), as AWS's agent (agent/session/crypto, datachannel's
// PerformHandshake) and plugin (src/encryption, ProcessKMSEncryption-
// HandshakeAction) do it:
//
//   - the agent's HandshakeRequest carries a KMSEncryption action with the
//     key's id (KMSEncryptionRequest);
//   - the client calls kms:GenerateDataKey for DataKeyBytes (64) under
//     that key with EncryptionContext(session, target) and answers with
//     the data key's ciphertext blob (KMSEncryptionResponse);
//   - the agent decrypts the blob with kms:Decrypt and the same context;
//     the first 32 bytes of the plaintext key are the agent's sending
//     key, the last 32 the client's;
//   - the agent proves the keys match with an EncChallengeRequest (64
//     random bytes sealed with its key), which the client opens and
//     re-seals with its own (EncChallengeResponse);
//   - from then on the agent seals the payloads of its Output, StdErr and
//     ExitCode messages and the client those of its Output messages:
//     AES-256-GCM, a 12-byte nonce, then the sealed bytes with the tag.
//
// Only the payloads are sealed: headers, sequence numbers, digests (of
// the sealed payload) and acknowledgements are as in any session.

// ActionKMSEncryption is the handshake action asking for a KMS data key.
const ActionKMSEncryption = "KMSEncryption"

// DataKeyBytes is the size of a session's data key (NumberOfBytes of
// GenerateDataKey): two AES-256 keys, one per direction.
const DataKeyBytes = 64

// EncryptedMessage is the HandshakeComplete CustomerMessage of an
// encrypted session, AWS's agent's text.
const EncryptedMessage = "This session is encrypted using AWS KMS."

// Encryption context keys of a session's data key.
const (
	ContextSessionID = "aws:ssm:SessionId"
	ContextTargetID  = "aws:ssm:TargetId"
)

const (
	nonceSize     = 12
	challengeSize = 64
	maxKeyIDLen   = 2048 // KMS's KeyId maximum
)

// EncryptionContext returns the KMS encryption context a session's data
// key is generated and decrypted under.
func EncryptionContext(sessionID, targetID string) map[string]string {
	return map[string]string{ContextSessionID: sessionID, ContextTargetID: targetID}
}

// KMSEncryptionRequest is the ActionParameters of a KMSEncryption action.
// AWS's agent also sends a random Challenge, which clients that set
// ChallengeAcknowledgement add to the encryption context; AWS's plugin,
// like jitssh, does not.
type KMSEncryptionRequest struct {
	KMSKeyID  string `json:"KMSKeyId"`
	Challenge string `json:"Challenge,omitempty"`
}

// KMSEncryptionResponse is the ActionResult of a KMSEncryption action.
type KMSEncryptionResponse struct {
	KMSCipherTextKey         []byte `json:"KMSCipherTextKey"`
	KMSCipherTextHash        []byte `json:"KMSCipherTextHash"`
	ChallengeAcknowledgement bool   `json:"ChallengeAcknowledgement,omitempty"`
}

// EncryptionChallenge is the payload of EncChallengeRequest and
// EncChallengeResponse messages: sealed bytes (base64 in JSON).
type EncryptionChallenge struct {
	Challenge []byte `json:"Challenge"`
}

// ParseKMSEncryptionRequest decodes and checks a KMSEncryption action's
// parameters: a key id of 1 to 2048 printable characters.
func ParseKMSEncryptionRequest(raw []byte) (KMSEncryptionRequest, error) {
	var r KMSEncryptionRequest
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("datachannel: malformed KMSEncryption parameters: %w", err)
	}
	if r.KMSKeyID == "" || len(r.KMSKeyID) > maxKeyIDLen {
		return r, fmt.Errorf("datachannel: KMSEncryption key id of %d bytes, want 1 to %d", len(r.KMSKeyID), maxKeyIDLen)
	}
	for _, c := range r.KMSKeyID {
		if !unicode.IsPrint(c) || c == unicode.ReplacementChar {
			return r, fmt.Errorf("datachannel: KMSEncryption key id %q has a non-printable character", r.KMSKeyID)
		}
	}
	return r, nil
}

// ParseKMSEncryptionResponse decodes a KMSEncryption action's result: a
// ciphertext blob of 1 to 6144 bytes (KMS's CiphertextBlob limit).
func ParseKMSEncryptionResponse(raw []byte) (KMSEncryptionResponse, error) {
	var r KMSEncryptionResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("datachannel: malformed KMSEncryption result: %w", err)
	}
	if len(r.KMSCipherTextKey) == 0 || len(r.KMSCipherTextKey) > 6144 {
		return r, fmt.Errorf("datachannel: KMSEncryption ciphertext key of %d bytes, want 1 to 6144", len(r.KMSCipherTextKey))
	}
	return r, nil
}

// ErrCiphertext is wrapped by errors of sealed payloads that do not open:
// tampered with, or sealed under another key.
var ErrCiphertext = errors.New("datachannel: encrypted payload does not authenticate")

// StreamCipher seals what one end sends and opens what it receives, with
// the half of the session's data key that belongs to each direction.
// Nonces are a counter from a random start (as AWS's agent has them), so
// no nonce repeats under a key within a session.
type StreamCipher struct {
	seal, open cipher.AEAD
	mu         sync.Mutex
	nonce      [nonceSize]byte
}

// NewStreamCipher returns the cipher of role's end for a DataKeyBytes
// plaintext data key: the agent seals with the first half and opens with
// the second; the client the other way round.
func NewStreamCipher(dataKey []byte, role Role) (*StreamCipher, error) {
	if len(dataKey) != DataKeyBytes {
		return nil, fmt.Errorf("datachannel: data key of %d bytes, want %d", len(dataKey), DataKeyBytes)
	}
	agentKey, clientKey := dataKey[:DataKeyBytes/2], dataKey[DataKeyBytes/2:]
	sealKey, openKey := clientKey, agentKey
	if role == RoleAgent {
		sealKey, openKey = agentKey, clientKey
	}
	c := &StreamCipher{}
	var err error
	if c.seal, err = newGCM(sealKey); err != nil {
		return nil, err
	}
	if c.open, err = newGCM(openKey); err != nil {
		return nil, err
	}
	if _, err := rand.Read(c.nonce[:]); err != nil {
		return nil, fmt.Errorf("datachannel: nonce: %w", err)
	}
	return c, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("datachannel: %w", err)
	}
	return cipher.NewGCM(b)
}

// Seal returns p sealed: the nonce, then the ciphertext and tag.
func (c *StreamCipher) Seal(p []byte) []byte {
	c.mu.Lock()
	nonce := c.nonce
	// Little-endian 32-bit words with carry, as AWS's agent counts.
	for i := 0; i < nonceSize; i += 4 {
		w := binary.LittleEndian.Uint32(c.nonce[i:]) + 1
		binary.LittleEndian.PutUint32(c.nonce[i:], w)
		if w != 0 {
			break
		}
	}
	c.mu.Unlock()
	out := make([]byte, nonceSize, nonceSize+len(p)+c.seal.Overhead())
	copy(out, nonce[:])
	return c.seal.Seal(out, nonce[:], p, nil)
}

// Open returns the plaintext of a sealed payload, or an error wrapping
// ErrCiphertext.
func (c *StreamCipher) Open(p []byte) ([]byte, error) {
	if len(p) < nonceSize+c.open.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a nonce and tag", ErrCiphertext, len(p))
	}
	out, err := c.open.Open(nil, p[:nonceSize], p[nonceSize:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w (%d bytes)", ErrCiphertext, len(p))
	}
	return out, nil
}

// sealedSend reports whether role's end seals payloads of type pt: the
// agent its Output, StdErr and ExitCode, the client its Output.
func sealedSend(role Role, pt PayloadType) bool {
	if role == RoleAgent {
		return pt == PayloadOutput || pt == PayloadStdErr || pt == PayloadExitCode
	}
	return pt == PayloadOutput
}

// sealedRecv reports whether role's end receives payloads of type pt sealed.
func sealedRecv(role Role, pt PayloadType) bool {
	if role == RoleAgent {
		return sealedSend(RoleClient, pt)
	}
	return sealedSend(RoleAgent, pt)
}

// SetCipher makes the session seal and open stream payloads with c from
// now on (the handshake calls it; tests may too).
func (s *Session) SetCipher(c *StreamCipher) {
	s.mu.Lock()
	s.cipher = c
	s.mu.Unlock()
}

// Encrypted reports whether the session's stream is encrypted.
func (s *Session) Encrypted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cipher != nil
}

// DataKeyFunc obtains a session's data key from KMS: GenerateDataKey of
// DataKeyBytes under keyID with the session's EncryptionContext. It
// returns the plaintext key and its ciphertext blob.
type DataKeyFunc func(ctx context.Context, keyID string) (plaintext, ciphertextBlob []byte, err error)

// DecryptKeyFunc recovers a session's data key from its ciphertext blob
// with KMS (Decrypt under keyID with the session's EncryptionContext, plus
// aws:ssm:RandomChallenge = randomChallenge when that is not ""): the
// agent's side of DataKeyFunc.
type DecryptKeyFunc func(ctx context.Context, keyID string, ciphertextBlob []byte, randomChallenge string) (plaintext []byte, err error)

// ContextRandomChallenge is the encryption context key of the agent's
// challenge, for clients that acknowledge it.
const ContextRandomChallenge = "aws:ssm:RandomChallenge"

// KMSError is a failed KMS step of an encrypted session's handshake.
type KMSError struct {
	// KeyID is the key the agent asked for.
	KeyID string
	// Err is KMS's (or the key's) failure.
	Err error
}

func (e *KMSError) Error() string {
	return fmt.Sprintf("KMS data key for the session's key %s: %v", e.KeyID, e.Err)
}

func (e *KMSError) Unwrap() error { return e.Err }

// Buffered reports how many received stream bytes wait for Read.
func (s *Session) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buffered
}
