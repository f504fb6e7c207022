package datachannel

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/uuid"
)

// TestAppendAckMatchesEncodingJSON: the hand-written acknowledgement JSON is
// exactly what encoding/json writes, which is exactly what AWS's plugin
// writes (TestGoldenAcknowledgeNamesSwappedID).
func TestAppendAckMatchesEncodingJSON(t *testing.T) {
	for _, seq := range []int64{0, 1, 7, 1 << 40, -1} {
		for _, typ := range []string{TypeInputStreamData, TypeOutputStreamData} {
			id := uuid.NewString()
			want, _ := json.Marshal(Acknowledge{typ, id, seq, true})
			if got := appendAck(nil, typ, id, seq); !bytes.Equal(got, want) {
				t.Fatalf("appendAck = %s\nwant       %s", got, want)
			}
		}
	}
}

func TestAckSequence(t *testing.T) {
	golden, err := os.ReadFile("testdata/golden/002-p2s-acknowledge.bin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(golden)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]int64{
		string(m.Payload): 0,
		`{"AcknowledgedMessageSequenceNumber":42,"IsSequentialMessage":true}`:           42,
		`{ "AcknowledgedMessageSequenceNumber" : 43 }`:                                  43, // spacing: slow path
		`{"AcknowledgedMessageType":"x","AcknowledgedMessageSequenceNumber":9}`:         9,
		`{"AcknowledgedMessageSequenceNumber":5,"AcknowledgedMessageSequenceNumber":6}`: 6, // as encoding/json: last wins
		`{"x":{"AcknowledgedMessageSequenceNumber":5}}`:                                 0, // nested: not the field
	}
	for in, want := range cases {
		got, err := ackSequence([]byte(in))
		if err != nil || got != want {
			t.Errorf("ackSequence(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"AcknowledgedMessageSequenceNumber":1`, `{"AcknowledgedMessageSequenceNumber":"x"}`, `[1]`} {
		if _, err := ackSequence([]byte(bad)); err == nil {
			t.Errorf("ackSequence(%q) accepted", bad)
		}
	}
}

// FuzzAckSequence: the fast path never disagrees with encoding/json.
func FuzzAckSequence(f *testing.F) {
	f.Add([]byte(`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"x","AcknowledgedMessageSequenceNumber":3,"IsSequentialMessage":true}`))
	f.Add([]byte(`{"AcknowledgedMessageSequenceNumber":1e3}`))
	f.Add([]byte("{\"AcknowledgedMessageType\":\"a\",\"AcknowledgedMessageId\":\"\xff\",\"AcknowledgedMessageSequenceNumber\":1,\"IsSequentialMessage\":true}"))
	f.Add([]byte(`{"AcknowledgedMessageType":"a\u0000","AcknowledgedMessageId":"b","AcknowledgedMessageSequenceNumber":-0,"IsSequentialMessage":false}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		got, id, err := ackSequenceID(p)
		var ack Acknowledge
		jerr := json.Unmarshal(p, &ack)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("ackSequence err %v, encoding/json err %v", err, jerr)
		}
		if err == nil && (got != ack.AcknowledgedMessageSequenceNumber || id != ack.AcknowledgedMessageID) {
			t.Fatalf("ackSequenceID = %d, %q; encoding/json = %d, %q", got, id, ack.AcknowledgedMessageSequenceNumber, ack.AcknowledgedMessageID)
		}
	})
}

// TestAckFrameMatchesMarshal: the one-allocation acknowledgement frame is
// byte for byte the frame Marshal writes for the same message, and reads
// back as an acknowledgement of what it names.
func TestAckFrameMatchesMarshal(t *testing.T) {
	ids := newIDSource()
	for _, seq := range []int64{0, 1, 1 << 40, -1} {
		for _, typ := range []string{TypeInputStreamData, TypeOutputStreamData} {
			ackID, id := ids.next(), ids.next()
			got := ackFrame(ackID, typ, id, seq)
			m, err := Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			want, err := (&Message{Type: TypeAcknowledge, Flags: FlagSYN | FlagFIN, ID: ackID, CreatedDate: m.CreatedDate,
				Payload: appendAck(nil, typ, id.String(), seq)}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("ackFrame =\n%x\nMarshal =\n%x", got, want)
			}
			if n, err := ackSequence(m.Payload); err != nil || n != seq {
				t.Fatalf("ackSequence = %d, %v; want %d", n, err, seq)
			}
		}
	}
}

// TestMessageIDs: ids are version-4 random UUIDs, as the protocol's
// senders use, and formatUUID writes them as uuid.String does.
func TestMessageIDs(t *testing.T) {
	ids := newIDSource()
	seen := map[uuid.UUID]bool{}
	for range 1000 {
		u := ids.next()
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %s: version %d, variant %v", u, u.Version(), u.Variant())
		}
		if seen[u] {
			t.Fatalf("id %s repeated", u)
		}
		seen[u] = true
		var buf [36]byte
		if got := string(formatUUID(&buf, u)); got != u.String() {
			t.Fatalf("formatUUID = %s, want %s", got, u)
		}
	}
	if a, b := newIDSource(), newIDSource(); a.next() == b.next() {
		t.Fatal("two sessions' first ids are equal: not seeded randomly")
	}
}
