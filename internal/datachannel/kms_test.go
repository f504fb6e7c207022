package datachannel

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKMS is an in-process stand-in for KMS's data keys: blobs are the
// data key sealed under a master key with the encryption context as
// additional data, so a blob opens only under the context it was made
// with (as with KMS).
type testKMS struct {
	master cipher.AEAD
	keyID  string
	calls  int
}

func newTestKMS(t *testing.T, keyID string) *testKMS {
	k := make([]byte, 32)
	rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return &testKMS{master: g, keyID: keyID}
}

func contextAAD(c map[string]string) []byte {
	var keys []string
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(k + "=" + c[k] + ";")
	}
	return b.Bytes()
}

func (k *testKMS) dataKey(encCtx map[string]string) DataKeyFunc {
	return func(_ context.Context, keyID string) ([]byte, []byte, error) {
		k.calls++
		if keyID != k.keyID {
			return nil, nil, errors.New("AccessDeniedException: not allowed")
		}
		plain := make([]byte, DataKeyBytes)
		rand.Read(plain)
		nonce := make([]byte, 12)
		rand.Read(nonce)
		return append([]byte(nil), plain...), k.master.Seal(nonce, nonce, plain, contextAAD(encCtx)), nil
	}
}

func (k *testKMS) decrypt(encCtx map[string]string) DecryptKeyFunc {
	return func(_ context.Context, keyID string, blob []byte, challenge string) ([]byte, error) {
		if keyID != k.keyID || len(blob) < 12 {
			return nil, errors.New("InvalidCiphertextException")
		}
		if challenge != "" {
			return nil, errors.New("unexpected challenge acknowledgement")
		}
		return k.master.Open(nil, blob[:12], blob[12:], contextAAD(encCtx))
	}
}

// recConn records the frames one end writes.
type recConn struct {
	*memConn
	mu     sync.Mutex
	frames [][]byte
}

func (c *recConn) WriteFrame(ctx context.Context, b []byte) error {
	c.mu.Lock()
	c.frames = append(c.frames, append([]byte(nil), b...))
	c.mu.Unlock()
	return c.memConn.WriteFrame(ctx, b)
}

func (c *recConn) payloads(t *testing.T, pt PayloadType) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, f := range c.frames {
		m, err := Unmarshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != TypeAcknowledge && m.PayloadType == pt && len(m.Payload) > 0 {
			out = append(out, m.Payload)
		}
	}
	return out
}

// encrypted runs a KMS-encrypted Standard_Stream handshake over a pipe.
func encrypted(t *testing.T, clientKey DataKeyFunc, agentKMS *AgentKMS) (client, agent *Session, ca, cb *recConn, res *ClientHandshakeResult, cerr, aerr error) {
	t.Helper()
	a, b := memPipe()
	ca, cb = &recConn{memConn: a}, &recConn{memConn: b}
	client = NewSession(ca, Config{Role: RoleClient})
	agent = NewSession(cb, Config{Role: RoleAgent})
	t.Cleanup(func() { client.Close(); agent.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		res, cerr = client.ClientHandshakeWith(ctx, HandshakeOptions{DataKey: clientKey})
		close(done)
	}()
	_, aerr = agent.AgentHandshakeWith(ctx, "3.3.987.0", "Standard_Stream", map[string]string{}, agentKMS)
	if aerr != nil {
		agent.Close() // as the agent ends a session whose handshake failed
	}
	<-done
	return client, agent, ca, cb, res, cerr, aerr
}

// TestKMSEncryptedStream: after the KMS handshake, both directions carry
// sealed payloads that the other end opens, with the halves of the data
// key AWS's agent and plugin use (agent: first 32 bytes, client: last 32),
// and no plaintext on the wire.
func TestKMSEncryptedStream(t *testing.T) {
	encCtx := EncryptionContext("alice-0123", "i-0123")
	kms := newTestKMS(t, "alias/ssm")
	var plainKey []byte
	dataKey := func(ctx context.Context, id string) ([]byte, []byte, error) {
		p, b, err := kms.dataKey(encCtx)(ctx, id)
		plainKey = append([]byte(nil), p...)
		return p, b, err
	}
	client, agent, ca, cb, res, cerr, aerr := encrypted(t, dataKey, &AgentKMS{KeyID: "alias/ssm", Decrypt: kms.decrypt(encCtx)})
	if cerr != nil || aerr != nil {
		t.Fatalf("handshake: client %v, agent %v", cerr, aerr)
	}
	if !res.Encrypted || res.CustomerMessage != EncryptedMessage || res.SessionType != "Standard_Stream" {
		t.Fatalf("result %+v", res)
	}
	if !client.Encrypted() || !agent.Encrypted() {
		t.Fatal("a session is not encrypted after the handshake")
	}
	up := []byte("echo secret-input-marker\n")
	down := bytes.Repeat([]byte("secret-output-marker "), 200) // several messages
	if _, err := client.Write(up); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(up))
	if _, err := io.ReadFull(agent, got); err != nil || !bytes.Equal(got, up) {
		t.Fatalf("agent read %q (%v)", got, err)
	}
	if _, err := agent.Write(down); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, len(down))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, down) {
		t.Fatalf("client read %d bytes (%v)", len(got), err)
	}
	// Independent of StreamCipher: AES-GCM, nonce first, key halves as
	// AWS has them.
	open := func(key, p []byte) ([]byte, error) {
		b, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCM(b)
		return g.Open(nil, p[:12], p[12:], nil)
	}
	var fromAgent bytes.Buffer
	for _, p := range cb.payloads(t, PayloadOutput) {
		if bytes.Contains(p, []byte("secret")) {
			t.Fatalf("agent sent plaintext: %q", p)
		}
		pt, err := open(plainKey[:32], p)
		if err != nil {
			t.Fatalf("agent payload does not open with the data key's first half: %v", err)
		}
		fromAgent.Write(pt)
	}
	if !bytes.Equal(fromAgent.Bytes(), down) {
		t.Fatalf("agent's payloads opened to %d bytes, want %d", fromAgent.Len(), len(down))
	}
	var fromClient bytes.Buffer
	for _, p := range ca.payloads(t, PayloadOutput) {
		pt, err := open(plainKey[32:], p)
		if err != nil {
			t.Fatalf("client payload does not open with the data key's second half: %v", err)
		}
		fromClient.Write(pt)
	}
	if !bytes.Equal(fromClient.Bytes(), up) {
		t.Fatalf("client's payloads opened to %q", fromClient.Bytes())
	}
	if n := len(cb.payloads(t, PayloadEncChallengeRequest)); n != 1 {
		t.Fatalf("%d encryption challenges", n)
	}
}

// TestKMSDataKeyDenied: a KMS failure on the client is answered as a
// failed action (the agent ends the session) and returned as *KMSError.
func TestKMSDataKeyDenied(t *testing.T) {
	encCtx := EncryptionContext("s", "i")
	kms := newTestKMS(t, "alias/other")
	_, _, ca, _, _, cerr, aerr := encrypted(t, kms.dataKey(encCtx), &AgentKMS{KeyID: "alias/ssm", Decrypt: kms.decrypt(encCtx)})
	var ke *KMSError
	if !errors.As(cerr, &ke) || ke.KeyID != "alias/ssm" || !strings.Contains(ke.Error(), "AccessDenied") {
		t.Fatalf("client error %v, want a KMSError for alias/ssm", cerr)
	}
	if aerr == nil || !strings.Contains(aerr.Error(), "KMSEncryption") {
		t.Fatalf("agent error %v", aerr)
	}
	var resp HandshakeResponse
	if err := json.Unmarshal(ca.payloads(t, PayloadHandshakeResponse)[0], &resp); err != nil {
		t.Fatal(err)
	}
	if a := resp.ProcessedClientActions[1]; a.ActionType != ActionKMSEncryption || a.ActionStatus != ActionFailed || len(resp.Errors) != 1 {
		t.Fatalf("response %+v", resp)
	}
}

// TestKMSWithoutDataKeyIsUnsupported: a client given no KMS access
// answers the action unsupported, as before.
func TestKMSWithoutDataKeyIsUnsupported(t *testing.T) {
	encCtx := EncryptionContext("s", "i")
	kms := newTestKMS(t, "k")
	_, _, _, _, _, _, aerr := encrypted(t, nil, &AgentKMS{KeyID: "k", Decrypt: kms.decrypt(encCtx)})
	if aerr == nil || !strings.Contains(aerr.Error(), "status 3") {
		t.Fatalf("agent error %v, want the action unsupported", aerr)
	}
}

// TestKMSWrongContextFails: a data key made for another session does not
// decrypt on the agent, which ends the handshake.
func TestKMSWrongContextFails(t *testing.T) {
	kms := newTestKMS(t, "k")
	_, _, _, _, _, _, aerr := encrypted(t, kms.dataKey(EncryptionContext("other", "i")), &AgentKMS{KeyID: "k", Decrypt: kms.decrypt(EncryptionContext("s", "i"))})
	var ke *KMSError
	if !errors.As(aerr, &ke) {
		t.Fatalf("agent error %v, want a KMSError", aerr)
	}
}

// TestTamperedPayloadFailsSession: a sealed payload that does not
// authenticate ends the session with ErrCiphertext instead of delivering
// bytes.
func TestTamperedPayloadFailsSession(t *testing.T) {
	key := make([]byte, DataKeyBytes)
	rand.Read(key)
	ac, _ := NewStreamCipher(key, RoleAgent)
	cc, _ := NewStreamCipher(key, RoleClient)
	a, b := memPipe()
	client := NewSession(a, Config{Role: RoleClient})
	defer client.Close()
	defer b.Close()
	client.SetCipher(cc)
	sealed := ac.Seal([]byte("hello"))
	sealed[len(sealed)-1] ^= 1
	m := Message{Type: TypeOutputStreamData, SequenceNumber: 0, ID: newID(), PayloadType: PayloadOutput, Payload: sealed}
	f, _ := m.Marshal()
	if err := b.WriteFrame(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, err := client.Read(buf)
	if n != 0 || !errors.Is(err, ErrCiphertext) {
		t.Fatalf("Read = %d, %v; want ErrCiphertext", n, err)
	}
}

func TestStreamCipher(t *testing.T) {
	key := make([]byte, DataKeyBytes)
	rand.Read(key)
	ac, _ := NewStreamCipher(key, RoleAgent)
	cc, _ := NewStreamCipher(key, RoleClient)
	s1, s2 := ac.Seal([]byte("x")), ac.Seal([]byte("x"))
	if bytes.Equal(s1[:12], s2[:12]) {
		t.Fatal("nonce repeated")
	}
	if p, err := cc.Open(s1); err != nil || string(p) != "x" {
		t.Fatalf("client open: %q %v", p, err)
	}
	if _, err := ac.Open(s1); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("agent opened its own sealed payload: %v", err)
	}
	if _, err := cc.Open(s1[:20]); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("short payload: %v", err)
	}
	if _, err := NewStreamCipher(key[:32], RoleAgent); err == nil {
		t.Fatal("32-byte data key accepted")
	}
	c := &StreamCipher{seal: ac.seal}
	c.nonce = [12]byte{0xff, 0xff, 0xff, 0xff, 7}
	c.Seal(nil)
	if c.nonce != [12]byte{0, 0, 0, 0, 8} {
		t.Fatalf("nonce carry: %x", c.nonce)
	}
}

func TestParseKMSEncryptionRequest(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"KMSKeyId":"arn:aws:kms:us-east-1:111122223333:key/1234","Challenge":"abc="}`: true,
		`{"KMSKeyId":"alias/ssm"}`: true,
		`{"KMSKeyId":""}`:          false,
		`{"KMSKeyId":"a\u0000b"}`:  false,
		`{"KMSKeyId":5}`:           false,
		`[]`:                       false,
		`{"KMSKeyId":"` + strings.Repeat("k", 2049) + `"}`: false,
	} {
		if _, err := ParseKMSEncryptionRequest([]byte(in)); (err == nil) != ok {
			t.Errorf("%.60s: err %v, want ok=%v", in, err, ok)
		}
	}
}

// FuzzKMSHandshakePayloads: the handshake's KMS payload decoders and the
// cipher's Open take anything without panicking, and what they accept
// is within bounds.
func FuzzKMSHandshakePayloads(f *testing.F) {
	f.Add([]byte(`{"KMSKeyId":"alias/ssm","Challenge":"AAAA"}`))
	f.Add([]byte(`{"KMSCipherTextKey":"AAEC","KMSCipherTextHash":null}`))
	f.Add([]byte(`{"Challenge":"AAEC"}`))
	key := make([]byte, DataKeyBytes)
	c, _ := NewStreamCipher(key, RoleClient)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseKMSEncryptionRequest(b); err == nil && (r.KMSKeyID == "" || len(r.KMSKeyID) > maxKeyIDLen) {
			t.Fatalf("accepted key id %q", r.KMSKeyID)
		}
		if r, err := ParseKMSEncryptionResponse(b); err == nil && (len(r.KMSCipherTextKey) == 0 || len(r.KMSCipherTextKey) > 6144) {
			t.Fatalf("accepted blob of %d bytes", len(r.KMSCipherTextKey))
		}
		if _, err := c.Open(b); err == nil {
			t.Fatal("random bytes authenticated")
		}
	})
}

// TestKMSEncryptedStreamUnderFaults: sealed frames dropped, duplicated
// and reordered are resent as they were (same nonce, same ciphertext)
// and open in order: 1 MiB each way intact.
func TestKMSEncryptedStreamUnderFaults(t *testing.T) {
	encCtx := EncryptionContext("s", "i")
	kms := newTestKMS(t, "k")
	client, agent, ca, cb, _, cerr, aerr := encrypted(t, kms.dataKey(encCtx), &AgentKMS{KeyID: "k", Decrypt: kms.decrypt(encCtx)})
	if cerr != nil || aerr != nil {
		t.Fatalf("handshake: %v %v", cerr, aerr)
	}
	ca.faults(0.05, 0.02, 0.05)
	cb.faults(0.05, 0.02, 0.05)
	errc := make(chan error, 2)
	go func() { errc <- streamCheck("client→agent", 1<<20, client, agent) }()
	go func() { errc <- streamCheck("agent→client", 1<<20, agent, client) }()
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if ca.droppedCount() == 0 || cb.droppedCount() == 0 {
		t.Fatal("no frame was dropped: the faults were not injected")
	}
}
