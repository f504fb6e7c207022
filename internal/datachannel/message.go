// Package datachannel speaks the SSM Session Manager data-channel protocol:
// the binary ClientMessage codec, the acknowledge/retransmit reliability
// layer, and the session handshake, for both roles (the client, as
// session-manager-plugin is, and the agent, as amazon-ssm-agent is). It knows
// nothing of the AWS APIs: it is given a websocket (or any FrameConn) and a
// token, and offers a reliable byte stream.
//
// The wire format is specified in docs/protocol.md and in the design notes
// (specs/ssm-protocol.md §3-§6); golden frames captured from AWS's
// session-manager-plugin are checked in testdata/golden.
package datachannel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Message types carried on the data channel.
const (
	TypeInputStreamData   = "input_stream_data"  // client -> agent, sequenced
	TypeOutputStreamData  = "output_stream_data" // agent -> client, sequenced
	TypeAcknowledge       = "acknowledge"
	TypeChannelClosed     = "channel_closed"
	TypeStartPublication  = "start_publication"
	TypePausePublication  = "pause_publication"
	TypeAgentSessionState = "agent_session_state"
)

// PayloadType identifies what a stream message's payload holds.
type PayloadType uint32

// Payload types (specs/ssm-protocol.md §4.2).
const (
	PayloadNone                 PayloadType = 0
	PayloadOutput               PayloadType = 1
	PayloadError                PayloadType = 2
	PayloadSize                 PayloadType = 3
	PayloadParameter            PayloadType = 4
	PayloadHandshakeRequest     PayloadType = 5
	PayloadHandshakeResponse    PayloadType = 6
	PayloadHandshakeComplete    PayloadType = 7
	PayloadEncChallengeRequest  PayloadType = 8
	PayloadEncChallengeResponse PayloadType = 9
	PayloadFlag                 PayloadType = 10
	PayloadStdErr               PayloadType = 11
	PayloadExitCode             PayloadType = 12
)

// Flag values carried in a PayloadFlag message (a big-endian uint32).
const (
	FlagDisconnectToPort   uint32 = 1
	FlagTerminateSession   uint32 = 2
	FlagConnectToPortError uint32 = 3
)

// Header flags.
const (
	FlagSYN uint64 = 1
	FlagFIN uint64 = 2
)

const (
	headerLength    = 116 // offset of PayloadLength; what every sender writes
	minHeaderLength = 112 // channel_closed has been seen without PayloadType
	typeFieldLen    = 32
	// MaxFrameSize bounds a decoded frame; larger frames are refused.
	MaxFrameSize = 1 << 20
)

// Message is one decoded ClientMessage (AgentMessage).
type Message struct {
	Type           string
	SchemaVersion  uint32
	CreatedDate    time.Time // millisecond precision on the wire
	SequenceNumber int64
	Flags          uint64
	ID             uuid.UUID
	Digest         [32]byte
	PayloadType    PayloadType
	Payload        []byte
}

// Errors returned by Unmarshal.
var (
	ErrShortFrame = errors.New("datachannel: frame too short")
	ErrBadDigest  = errors.New("datachannel: payload digest mismatch")
)

// Marshal encodes m. It computes the payload digest; m.Digest is ignored.
func (m *Message) Marshal() ([]byte, error) {
	if len(m.Type) == 0 || len(m.Type) > typeFieldLen {
		return nil, fmt.Errorf("datachannel: message type %q must be 1-%d bytes", m.Type, typeFieldLen)
	}
	if len(m.Payload) > MaxFrameSize-headerLength-4 {
		return nil, fmt.Errorf("datachannel: payload of %d bytes is too large", len(m.Payload))
	}
	b := make([]byte, headerLength+4+len(m.Payload))
	copy(b[headerLength+4:], m.Payload)
	m.putHeader(b)
	return b, nil
}

// putHeader writes m's header into b, whose payload (b[headerLength+4:])
// is already in place; the digest is computed from it.
func (m *Message) putHeader(b []byte) {
	binary.BigEndian.PutUint32(b[0:], headerLength)
	n := copy(b[4:4+typeFieldLen], m.Type)
	for i := 4 + n; i < 4+typeFieldLen; i++ {
		b[i] = ' '
	}
	sv := m.SchemaVersion
	if sv == 0 {
		sv = 1
	}
	binary.BigEndian.PutUint32(b[36:], sv)
	created := m.CreatedDate
	if created.IsZero() {
		created = time.Now()
	}
	binary.BigEndian.PutUint64(b[40:], uint64(created.UnixMilli()))
	binary.BigEndian.PutUint64(b[48:], uint64(m.SequenceNumber))
	binary.BigEndian.PutUint64(b[56:], m.Flags)
	putUUID(b[64:80], m.ID)
	payload := b[headerLength+4:]
	d := sha256.Sum256(payload)
	copy(b[80:112], d[:])
	binary.BigEndian.PutUint32(b[112:], uint32(m.PayloadType))
	binary.BigEndian.PutUint32(b[116:], uint32(len(payload)))
}

// ackFrame encodes the acknowledgement of a message of type typ with the
// given id and sequence number in one allocation, as
// (&Message{Type: TypeAcknowledge, Flags: FlagSYN | FlagFIN, ID: ackID,
// Payload: appendAck(...)}).Marshal() would.
func ackFrame(ackID uuid.UUID, typ string, id uuid.UUID, seq int64) []byte {
	var ids [36]byte
	b := make([]byte, headerLength+4, headerLength+4+ackPayloadMax)
	b = appendAck(b, typ, formatUUID(&ids, id), seq)
	m := Message{Type: TypeAcknowledge, Flags: FlagSYN | FlagFIN, ID: ackID}
	m.putHeader(b)
	return b
}

// ackPayloadMax is the longest acknowledgement payload appendAck writes.
const ackPayloadMax = len(`{"AcknowledgedMessageType":"","AcknowledgedMessageId":"","AcknowledgedMessageSequenceNumber":,"IsSequentialMessage":true}`) +
	typeFieldLen + 36 + 20

// formatUUID writes u in its canonical form (as u.String()) into dst and
// returns it.
func formatUUID(dst *[36]byte, u uuid.UUID) []byte {
	const hex = "0123456789abcdef"
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hex[c>>4], hex[c&0xf]
		j += 2
	}
	return dst[:]
}

// Unmarshal decodes and validates one frame. Like AWS's parsers it slices the
// payload by the HeaderLength found on the wire (112-byte headers carry no
// PayloadType), accepts NUL or space padding in the type field, and checks the
// digest of non-empty payloads. Unlike them it also requires PayloadLength to
// match, except for the service's publication messages, which are known to
// carry garbage there.
func Unmarshal(b []byte) (*Message, error) {
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("datachannel: frame of %d bytes exceeds %d", len(b), MaxFrameSize)
	}
	if len(b) < minHeaderLength+4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(b))
	}
	hl := binary.BigEndian.Uint32(b[0:])
	if hl < minHeaderLength || uint64(hl)+4 > uint64(len(b)) {
		return nil, fmt.Errorf("datachannel: header length %d invalid for a %d-byte frame", hl, len(b))
	}
	m := &Message{
		Type:           messageType(bytes.TrimSpace(bytes.Trim(b[4:36], "\x00"))),
		SchemaVersion:  binary.BigEndian.Uint32(b[36:]),
		SequenceNumber: int64(binary.BigEndian.Uint64(b[48:])),
		Flags:          binary.BigEndian.Uint64(b[56:]),
		ID:             getUUID(b[64:80]),
	}
	m.CreatedDate = time.UnixMilli(int64(binary.BigEndian.Uint64(b[40:])))
	copy(m.Digest[:], b[80:112])
	if hl >= headerLength {
		m.PayloadType = PayloadType(binary.BigEndian.Uint32(b[112:]))
	}
	payloadLen := binary.BigEndian.Uint32(b[hl:])
	m.Payload = b[hl+4:]
	if m.Type == "" {
		return nil, errors.New("datachannel: empty message type")
	}
	if m.Type == TypeStartPublication || m.Type == TypePausePublication {
		return m, nil
	}
	if uint64(payloadLen) != uint64(len(m.Payload)) {
		return nil, fmt.Errorf("datachannel: %s payload length field %d but %d bytes follow", m.Type, payloadLen, len(m.Payload))
	}
	if len(m.Payload) > 0 && sha256.Sum256(m.Payload) != m.Digest {
		return nil, fmt.Errorf("%w in %s seq %d", ErrBadDigest, m.Type, m.SequenceNumber)
	}
	return m, nil
}

// messageType returns t as a string, without allocating for the known
// message types.
func messageType(t []byte) string {
	switch string(t) {
	case TypeInputStreamData:
		return TypeInputStreamData
	case TypeOutputStreamData:
		return TypeOutputStreamData
	case TypeAcknowledge:
		return TypeAcknowledge
	case TypeChannelClosed:
		return TypeChannelClosed
	case TypeStartPublication:
		return TypeStartPublication
	case TypePausePublication:
		return TypePausePublication
	case TypeAgentSessionState:
		return TypeAgentSessionState
	}
	return string(t)
}

// putUUID writes u with its 64-bit halves swapped, as the SSM wire does.
func putUUID(dst []byte, u uuid.UUID) {
	copy(dst[0:8], u[8:16])
	copy(dst[8:16], u[0:8])
}

func getUUID(src []byte) uuid.UUID {
	var u uuid.UUID
	copy(u[8:16], src[0:8])
	copy(u[0:8], src[8:16])
	return u
}

func newID() uuid.UUID { return uuid.New() }
