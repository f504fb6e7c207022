package datachannel

import (
	"context"
	"encoding/json"
	"fmt"
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
}

func (s *Session) nextHandshake(ctx context.Context, want PayloadType) (*Message, error) {
	for {
		select {
		case m := <-s.hs:
			if m.PayloadType == want {
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

// ClientHandshake answers the agent's handshake: it accepts the session type
// and refuses anything else it asks for (KMS encryption is not supported),
// then waits for HandshakeComplete.
func (s *Session) ClientHandshake(ctx context.Context) (*ClientHandshakeResult, error) {
	m, err := s.nextHandshake(ctx, PayloadHandshakeRequest)
	if err != nil {
		return nil, fmt.Errorf("wait for handshake request: %w", err)
	}
	var req HandshakeRequest
	if err := json.Unmarshal(m.Payload, &req); err != nil {
		return nil, fmt.Errorf("decode handshake request: %w", err)
	}
	res := &ClientHandshakeResult{AgentVersion: req.AgentVersion}
	resp := HandshakeResponse{ClientVersion: ClientVersion}
	for _, a := range req.RequestedClientActions {
		pa := ProcessedAction{ActionType: a.ActionType}
		switch a.ActionType {
		case "SessionType":
			var st SessionTypeRequest
			var raw struct {
				SessionType string          `json:"SessionType"`
				Properties  json.RawMessage `json:"Properties"`
			}
			if err := json.Unmarshal(a.ActionParameters, &raw); err != nil {
				pa.ActionStatus, pa.Error = ActionFailed, "malformed SessionType parameters"
				break
			}
			st.SessionType = raw.SessionType
			res.SessionType, res.Properties = raw.SessionType, raw.Properties
			pa.ActionStatus = ActionSuccess
		default:
			pa.ActionStatus = ActionUnsupported
			pa.Error = fmt.Sprintf("jitssh does not support the %s action", a.ActionType)
		}
		resp.ProcessedClientActions = append(resp.ProcessedClientActions, pa)
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	if err := s.SendStream(PayloadHandshakeResponse, body); err != nil {
		return nil, fmt.Errorf("send handshake response: %w", err)
	}
	m, err = s.nextHandshake(ctx, PayloadHandshakeComplete)
	if err != nil {
		return nil, fmt.Errorf("wait for handshake completion: %w", err)
	}
	var done HandshakeComplete
	if err := json.Unmarshal(m.Payload, &done); err != nil {
		return nil, fmt.Errorf("decode handshake completion: %w", err)
	}
	res.CustomerMessage = done.CustomerMessage
	return res, nil
}

// AgentHandshake runs the agent's side of the handshake for a session of the
// given type: HandshakeRequest, the client's HandshakeResponse (every action
// must have succeeded), HandshakeComplete, and its acknowledgement (AWS's
// plugin drops data that arrives right behind HandshakeComplete).
func (s *Session) AgentHandshake(ctx context.Context, agentVersion, sessionType string, properties any) (*HandshakeResponse, error) {
	start := time.Now()
	params, err := json.Marshal(SessionTypeRequest{SessionType: sessionType, Properties: properties})
	if err != nil {
		return nil, err
	}
	req, err := json.Marshal(HandshakeRequest{
		AgentVersion:           agentVersion,
		RequestedClientActions: []RequestedAction{{ActionType: "SessionType", ActionParameters: params}},
	})
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
	for _, a := range resp.ProcessedClientActions {
		if a.ActionStatus != ActionSuccess {
			return &resp, fmt.Errorf("client could not perform %s (status %d): %s", a.ActionType, a.ActionStatus, a.Error)
		}
	}
	done, err := json.Marshal(HandshakeComplete{HandshakeTimeToComplete: time.Since(start)})
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
