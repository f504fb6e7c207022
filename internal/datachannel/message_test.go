package datachannel

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestGoldenPluginFramesRoundTrip decodes every frame AWS's
// session-manager-plugin sent in the golden capture and re-encodes it: the
// bytes must be identical, which pins the header layout, the padding, the
// swapped MessageId halves and the digest.
func TestGoldenPluginFramesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*/*-p2s-*.bin")
	main, _ := filepath.Glob("testdata/golden/*-p2s-*.bin")
	files = append(files, main...)
	if len(files) < 20 {
		t.Fatalf("found only %d golden plugin frames", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Unmarshal(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if m.ID.Version() != 4 {
			t.Errorf("%s: MessageId %s is not a v4 UUID after un-swapping", f, m.ID)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("%s: marshal: %v", f, err)
		}
		if !bytes.Equal(out, raw) {
			t.Errorf("%s: re-encoded frame differs from the plugin's bytes", f)
		}
	}
}

func TestGoldenAcknowledgeNamesSwappedID(t *testing.T) {
	req, err := os.ReadFile("testdata/golden/001-s2p-output_stream_data-HandshakeRequest.bin")
	if err != nil {
		t.Fatal(err)
	}
	ackRaw, err := os.ReadFile("testdata/golden/002-p2s-acknowledge.bin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(req)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Unmarshal(ackRaw)
	if err != nil {
		t.Fatal(err)
	}
	var ack Acknowledge
	if err := json.Unmarshal(a.Payload, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.AcknowledgedMessageID != m.ID.String() || ack.AcknowledgedMessageSequenceNumber != 0 || a.Flags != 3 {
		t.Fatalf("ack %+v (flags %d) does not match request id %s", ack, a.Flags, m.ID)
	}
	// Our own acknowledge must serialise its JSON exactly as the plugin does.
	ours, _ := json.Marshal(ack)
	if !bytes.Equal(ours, a.Payload) {
		t.Fatalf("ack JSON differs:\n ours %s\n aws  %s", ours, a.Payload)
	}
}

func TestGoldenHandshakeResponseShape(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden/003-p2s-input_stream_data-HandshakeResponse.bin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	resp := HandshakeResponse{ClientVersion: "1.2.677.0", ProcessedClientActions: []ProcessedAction{{ActionType: "SessionType", ActionStatus: ActionSuccess}}}
	ours, _ := json.Marshal(resp)
	if !bytes.Equal(ours, m.Payload) || m.PayloadType != PayloadHandshakeResponse {
		t.Fatalf("handshake response differs:\n ours %s\n aws  %s", ours, m.Payload)
	}
}

func TestUnmarshalServiceQuirks(t *testing.T) {
	t.Run("112-byte channel_closed", func(t *testing.T) {
		files, _ := filepath.Glob("testdata/golden/channel-closed-112/*channel_closed*.bin")
		if len(files) != 1 {
			t.Fatalf("want one golden 112-byte channel_closed, have %v", files)
		}
		raw, _ := os.ReadFile(files[0])
		m, err := Unmarshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		var cc ChannelClosed
		if m.Type != TypeChannelClosed || json.Unmarshal(m.Payload, &cc) != nil || cc.SessionID == "" {
			t.Fatalf("decoded %q payload %q", m.Type, m.Payload)
		}
	})
	t.Run("bad digest", func(t *testing.T) {
		raw, _ := os.ReadFile("testdata/golden/037-s2p-output_stream_data-Output-bad-digest.bin")
		if _, err := Unmarshal(raw); !errors.Is(err, ErrBadDigest) {
			t.Fatalf("err = %v, want ErrBadDigest", err)
		}
	})
	t.Run("empty payload with zero digest", func(t *testing.T) {
		raw, _ := os.ReadFile("testdata/golden/035-s2p-output_stream_data-Output-empty-zero-digest.bin")
		m, err := Unmarshal(raw)
		if err != nil || len(m.Payload) != 0 {
			t.Fatalf("m=%v err=%v", m, err)
		}
	})
}

func TestMarshalRoundTrip(t *testing.T) {
	m := &Message{Type: TypeInputStreamData, SequenceNumber: 7, ID: uuid.MustParse("dd01e56b-ff48-483e-a508-b5f073f31b16"),
		PayloadType: PayloadFlag, Payload: flagPayload(FlagTerminateSession), CreatedDate: time.UnixMilli(1795425215876)}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The worked example of the spec: the MessageId halves are swapped.
	if got := b[64:80]; !bytes.Equal(got, []byte{0xa5, 0x08, 0xb5, 0xf0, 0x73, 0xf3, 0x1b, 0x16, 0xdd, 0x01, 0xe5, 0x6b, 0xff, 0x48, 0x48, 0x3e}) {
		t.Fatalf("MessageId on the wire = %x", got)
	}
	if d := sha256.Sum256(m.Payload); !bytes.Equal(b[80:112], d[:]) {
		t.Fatal("digest not SHA-256 of payload")
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.SequenceNumber != 7 || got.PayloadType != PayloadFlag || !got.CreatedDate.Equal(m.CreatedDate) || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestUnmarshalRejectsMalformed(t *testing.T) {
	good, _ := (&Message{Type: TypeOutputStreamData, ID: uuid.New(), PayloadType: PayloadOutput, Payload: []byte("hello")}).Marshal()
	mut := func(f func(b []byte) []byte) []byte { c := append([]byte(nil), good...); return f(c) }
	cases := map[string][]byte{
		"empty":               nil,
		"short":               good[:100],
		"header length huge":  mut(func(b []byte) []byte { b[0] = 0xff; return b }),
		"header length small": mut(func(b []byte) []byte { b[3] = 10; return b }),
		"payload length lies": mut(func(b []byte) []byte { b[119] = 99; return b }),
		"tampered payload":    mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"blank type":          mut(func(b []byte) []byte { copy(b[4:36], strings.Repeat(" ", 32)); return b }),
		"truncated payload":   good[:len(good)-2],
	}
	for name, b := range cases {
		if _, err := Unmarshal(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.bin")
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		if len(m.Type) > 32 {
			t.Fatalf("type %q longer than the field", m.Type)
		}
		out, err := m.Marshal()
		if err != nil {
			return // e.g. a type with padding-like bytes; never a panic
		}
		m2, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if m2.Type != m.Type || m2.SequenceNumber != m.SequenceNumber || !bytes.Equal(m2.Payload, m.Payload) {
			t.Fatalf("re-decode differs")
		}
	})
}
