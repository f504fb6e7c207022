package datachannel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ClientVersion is the version jitssh reports in the handshake. Agents gate
// features on it (smux at >= 1.1.70, smux keepalive off above 1.2.331.0), so
// it follows the session-manager-plugin numbering: this is the plugin release
// whose protocol behaviour jitssh implements.
const ClientVersion = "1.2.677.0"

// SessionTypePort is the session type of port and SSH sessions.
const SessionTypePort = "Port"

// PortProperties are the resolved document properties of a Port session.
type PortProperties struct {
	PortNumber      string `json:"portNumber"`
	Type            string `json:"type,omitempty"`
	Host            string `json:"host,omitempty"`
	LocalPortNumber string `json:"localPortNumber,omitempty"`
}

// ClientHandshakeResult is what the agent asked for in its handshake.
type ClientHandshakeResult struct {
	AgentVersion    string
	SessionType     string
	Properties      json.RawMessage
	CustomerMessage string
	// Encrypted reports a KMS-encrypted session.
	Encrypted bool
}

// nextHandshake returns the next handshake message of one of the wanted
// payload types, dropping others.
func (s *Session) nextHandshake(ctx context.Context, want ...PayloadType) (*Message, error) {
	for {
		select {
		case m := <-s.hs:
			if slices.Contains(want, m.PayloadType) {
				return m, nil
			}
			s.log.Debug("unexpected handshake message", "payload_type", m.PayloadType, "want", want)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.ctx.Done():
			if err := s.Err(); err != nil {
				return nil, err
			}
			return nil, ErrClosed
		}
	}
}

// HandshakeOptions are what a client brings to the agent's handshake.
type HandshakeOptions struct {
	// DataKey, when set, lets the client accept a KMSEncryption action
	// (an encrypted session); nil answers it unsupported.
	DataKey DataKeyFunc
	// OnRequest, when set, is called once the agent's HandshakeRequest
	// has arrived, before any KMS call.
	OnRequest func()
}

// ClientHandshake answers the agent's handshake without KMS: it accepts
// the session type and refuses anything else it asks for, then waits for
// HandshakeComplete.
func (s *Session) ClientHandshake(ctx context.Context) (*ClientHandshakeResult, error) {
	return s.ClientHandshakeWith(ctx, HandshakeOptions{})
}

// ClientHandshakeWith answers the agent's handshake: it accepts the
// session type, performs a KMSEncryption action with opts.DataKey (the
// session is encrypted from then on, and the agent's encryption
// challenge is answered), refuses anything else, then waits for
// HandshakeComplete. A failed KMS step is answered as failed, so that the
// agent ends the session, and returned as a *KMSError.
func (s *Session) ClientHandshakeWith(ctx context.Context, opts HandshakeOptions) (*ClientHandshakeResult, error) {
	m, err := s.nextHandshake(ctx, PayloadHandshakeRequest)
	if err != nil {
		return nil, fmt.Errorf("wait for handshake request: %w", err)
	}
	var req HandshakeRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		return nil, fmt.Errorf("decode handshake request: %w", err)
	}
	if opts.OnRequest != nil {
		opts.OnRequest()
	}
	res := &ClientHandshakeResult{AgentVersion: req.AgentVersion}
	resp := HandshakeResponse{ClientVersion: ClientVersion}
	var ciph *StreamCipher
	var kmsErr error
	for _, a := range req.RequestedClientActions {
		pa := ProcessedAction{ActionType: a.ActionType}
		switch {
		case a.ActionType == "SessionType":
			var raw struct {
				SessionType string          `json:"SessionType"`
				Properties  json.RawMessage `json:"Properties"`
			}
			if err := json.Unmarshal(a.ActionParameters, &raw); err != nil {
				pa.ActionStatus, pa.Error = ActionFailed, "malformed SessionType parameters"
				break
			}
			res.SessionType, res.Properties = raw.SessionType, raw.Properties
			pa.ActionStatus = ActionSuccess
		case a.ActionType == ActionKMSEncryption && opts.DataKey != nil:
			c, result, err := clientKMSAction(ctx, a.ActionParameters, opts.DataKey)
			if err != nil {
				pa.ActionStatus = ActionFailed
				pa.Error = fmt.Sprintf("Failed to process action %s: %v", ActionKMSEncryption, err)
				resp.Errors = append(resp.Errors, err.Error())
				kmsErr = err
				break
			}
			ciph, pa.ActionStatus, pa.ActionResult = c, ActionSuccess, result
		default:
			pa.ActionStatus = ActionUnsupported
			pa.Error = fmt.Sprintf("jitssh does not support the %s action", a.ActionType)
		}
		resp.ProcessedClientActions = append(resp.ProcessedClientActions, pa)
	}
	if ciph != nil {
		// Before the response: the agent seals what it sends next.
		s.SetCipher(ciph)
		res.Encrypted = true
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	if err := s.SendStream(PayloadHandshakeResponse, body); err != nil {
		return nil, fmt.Errorf("send handshake response: %w", err)
	}
	if kmsErr != nil {
		return nil, kmsErr
	}
	for {
		m, err = s.nextHandshake(ctx, PayloadHandshakeComplete, PayloadEncChallengeRequest)
		if err != nil {
			return nil, fmt.Errorf("wait for handshake completion: %w", err)
		}
		if m.PayloadType == PayloadHandshakeComplete {
			break
		}
		if err := s.answerChallenge(ciph, m.Payload); err != nil {
			return nil, err
		}
	}
	var done HandshakeComplete
	if err := json.Unmarshal(m.Payload, &done); err != nil {
		return nil, fmt.Errorf("decode handshake completion: %w", err)
	}
	res.CustomerMessage = done.CustomerMessage
	return res, nil
}

// clientKMSAction performs a KMSEncryption action: a data key from KMS,
// the client's cipher and the action's result.
func clientKMSAction(ctx context.Context, params json.RawMessage, dataKey DataKeyFunc) (*StreamCipher, KMSEncryptionResponse, error) {
	req, err := ParseKMSEncryptionRequest(params)
	if err != nil {
		return nil, KMSEncryptionResponse{}, err
	}
	plain, blob, err := dataKey(ctx, req.KMSKeyID)
	if err != nil {
		return nil, KMSEncryptionResponse{}, &KMSError{KeyID: req.KMSKeyID, Err: err}
	}
	c, err := NewStreamCipher(plain, RoleClient)
	clear(plain)
	if err != nil {
		return nil, KMSEncryptionResponse{}, &KMSError{KeyID: req.KMSKeyID, Err: err}
	}
	return c, KMSEncryptionResponse{KMSCipherTextKey: blob}, nil
}

// answerChallenge answers an EncChallengeRequest: the challenge opened
// with the agent's key and sealed again with the client's.
func (s *Session) answerChallenge(ciph *StreamCipher, payload []byte) error {
	if ciph == nil {
		return errors.New("the agent sent an encryption challenge for a session that is not encrypted")
	}
	var ch EncryptionChallenge
	if err := json.Unmarshal(payload, &ch); err != nil {
		return fmt.Errorf("decode encryption challenge: %w", err)
	}
	plain, err := ciph.Open(ch.Challenge)
	if err != nil {
		return fmt.Errorf("encryption challenge: %w", err)
	}
	body, err := json.Marshal(EncryptionChallenge{Challenge: ciph.Seal(plain)})
	if err != nil {
		return err
	}
	if err := s.SendStream(PayloadEncChallengeResponse, body); err != nil {
		return fmt.Errorf("send encryption challenge response: %w", err)
	}
	return nil
}

// AgentKMS is what an agent needs to encrypt a session: the key the
// account's preferences name and a way to decrypt the client's data key.
type AgentKMS struct {
	KeyID   string
	Decrypt DecryptKeyFunc
}

// AgentHandshake runs the agent's side of the handshake for a session of the
// given type: HandshakeRequest, the client's HandshakeResponse (every action
// must have succeeded), HandshakeComplete, and its acknowledgement (AWS's
// plugin drops data that arrives right behind HandshakeComplete).
func (s *Session) AgentHandshake(ctx context.Context, agentVersion, sessionType string, properties any) (*HandshakeResponse, error) {
	return s.AgentHandshakeWith(ctx, agentVersion, sessionType, properties, nil)
}

// AgentHandshakeWith is AgentHandshake, encrypting the session when kms
// is not nil: the request carries a KMSEncryption action, the client's
// data key is decrypted with kms.Decrypt, the stream is sealed from then
// on, and an encryption challenge proves both ends hold the same key
// before HandshakeComplete.
func (s *Session) AgentHandshakeWith(ctx context.Context, agentVersion, sessionType string, properties any, kms *AgentKMS) (*HandshakeResponse, error) {
	start := time.Now()
	params, err := json.Marshal(SessionTypeRequest{SessionType: sessionType, Properties: properties})
	if err != nil {
		return nil, err
	}
	actions := []RequestedAction{{ActionType: "SessionType", ActionParameters: params}}
	var challenge string
	if kms != nil {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		challenge = base64.StdEncoding.EncodeToString(b)
		p, err := json.Marshal(KMSEncryptionRequest{KMSKeyID: kms.KeyID, Challenge: challenge})
		if err != nil {
			return nil, err
		}
		actions = append(actions, RequestedAction{ActionType: ActionKMSEncryption, ActionParameters: p})
	}
	req, err := json.Marshal(HandshakeRequest{AgentVersion: agentVersion, RequestedClientActions: actions})
	if err != nil {
		return nil, err
	}
	if err := s.SendStream(PayloadHandshakeRequest, req); err != nil {
		return nil, fmt.Errorf("send handshake request: %w", err)
	}
	m, err := s.nextHandshake(ctx, PayloadHandshakeResponse)
	if err != nil {
		return nil, fmt.Errorf("handshake timed out: %w", err)
	}
	var resp HandshakeResponse
	if err := json.Unmarshal(m.Payload, &resp); err != nil {
		return nil, fmt.Errorf("decode handshake response: %w", err)
	}
	var kmsResult json.RawMessage
	for _, a := range resp.ProcessedClientActions {
		if a.ActionStatus != ActionSuccess {
			return &resp, fmt.Errorf("client could not perform %s (status %d): %s", a.ActionType, a.ActionStatus, a.Error)
		}
		if a.ActionType == ActionKMSEncryption {
			kmsResult, _ = json.Marshal(a.ActionResult)
		}
	}
	customer := ""
	if kms != nil {
		if err := s.agentEncrypt(ctx, kms, kmsResult, challenge); err != nil {
			return &resp, err
		}
		customer = EncryptedMessage
	}
	done, err := json.Marshal(HandshakeComplete{HandshakeTimeToComplete: time.Since(start), CustomerMessage: customer})
	if err != nil {
		return nil, err
	}
	if err := s.SendStream(PayloadHandshakeComplete, done); err != nil {
		return nil, fmt.Errorf("send handshake completion: %w", err)
	}
	if err := s.Flush(ctx); err != nil {
		return nil, fmt.Errorf("wait for handshake completion to be acknowledged: %w", err)
	}
	return &resp, nil
}

// agentEncrypt finishes the agent's side of KMS encryption: the client's
// data key decrypted, the cipher set, the challenge sent and checked.
func (s *Session) agentEncrypt(ctx context.Context, kms *AgentKMS, result json.RawMessage, challenge string) error {
	if result == nil {
		return errors.New("client did not perform " + ActionKMSEncryption)
	}
	r, err := ParseKMSEncryptionResponse(result)
	if err != nil {
		return err
	}
	if !r.ChallengeAcknowledgement {
		challenge = ""
	}
	plain, err := kms.Decrypt(ctx, kms.KeyID, r.KMSCipherTextKey, challenge)
	if err != nil {
		return &KMSError{KeyID: kms.KeyID, Err: err}
	}
	c, err := NewStreamCipher(plain, RoleAgent)
	clear(plain)
	if err != nil {
		return &KMSError{KeyID: kms.KeyID, Err: err}
	}
	s.SetCipher(c)
	want := make([]byte, challengeSize)
	_, _ = rand.Read(want)
	body, err := json.Marshal(EncryptionChallenge{Challenge: c.Seal(want)})
	if err != nil {
		return err
	}
	if err := s.SendStream(PayloadEncChallengeRequest, body); err != nil {
		return fmt.Errorf("send encryption challenge: %w", err)
	}
	m, err := s.nextHandshake(ctx, PayloadEncChallengeResponse)
	if err != nil {
		return fmt.Errorf("timed out waiting for encryption challenge: %w", err)
	}
	var got EncryptionChallenge
	if err := json.Unmarshal(m.Payload, &got); err != nil {
		return fmt.Errorf("decode encryption challenge response: %w", err)
	}
	back, err := c.Open(got.Challenge)
	if err != nil || !bytes.Equal(back, want) {
		return errors.New("encryption challenge does not match")
	}
	return nil
}

// SendChannelClosed writes the service's channel_closed message, which tells
// a client the session is over. Only the service side (the sandbox) sends it.
func (s *Session) SendChannelClosed(sessionID, destinationID, output string) error {
	m := &Message{Type: TypeChannelClosed}
	m.ID = newID()
	now := time.Now().UTC()
	body, err := json.Marshal(ChannelClosed{
		MessageID:     m.ID.String(),
		CreatedDate:   now.Format("2006-01-02T15:04:05.000Z"),
		DestinationID: destinationID,
		SessionID:     sessionID,
		MessageType:   TypeChannelClosed,
		SchemaVersion: 1,
		Output:        output,
	})
	if err != nil {
		return err
	}
	m.Payload = body
	m.CreatedDate = now
	frame, err := m.Marshal()
	if err != nil {
		return err
	}
	return s.writeFrame(frame)
}
