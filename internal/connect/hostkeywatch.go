package connect

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/crypto/ssh"
)

// SSH message numbers the watch looks for (RFC 4253, 4419, 5656).
const (
	msgNewKeys  = 21 // from here on the stream is encrypted
	msgKexReply = 31 // KEXDH_REPLY / KEX_ECDH_REPLY (and GEX's GROUP, which holds no key)
	msgGEXReply = 33 // KEX_DH_GEX_REPLY
)

// hostKeyWatch follows the server's side of an SSH connection as it
// passes and finds the host key the server presents: the first field of
// its key-exchange reply, which travels in clear before the first
// NEWKEYS. It only reads: it never alters, delays or decides anything
// (ssh verifies the key and its signature itself); it exists to explain a
// changed key, and to tell when the key exchange ended (the server's
// NEWKEYS: from there on the stream is encrypted), which the explanation
// of a login that failed needs. It gives up quietly on anything
// unexpected.
type hostKeyWatch struct {
	buf     []byte
	banner  bool // the server's version line has been seen
	done    bool
	key     ssh.PublicKey // the key found, if any
	newKeys bool          // the server's first NEWKEYS has passed
	// after is how many bytes followed NEWKEYS in what was fed.
	after int
	// version is the server's version line (SSH-2.0-OpenSSH_9.6 …).
	version string
}

// watchLimit bounds what the watch keeps before giving up (the key
// exchange is a few KiB).
const watchLimit = 256 << 10

// maxPacket is the largest packet the watch accepts (RFC 4253 requires
// 35000 bytes to be handled; post-quantum exchanges stay far below 64 KiB).
const maxPacket = 64 << 10

// feed takes the next bytes of the stream.
func (w *hostKeyWatch) feed(p []byte) {
	if w.done {
		return
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > watchLimit {
		w.stop()
		return
	}
	for !w.done {
		if !w.banner {
			i := bytes.IndexByte(w.buf, '\n')
			if i < 0 {
				return
			}
			// Lines before the version line are allowed (RFC 4253 4.2).
			w.banner = bytes.HasPrefix(w.buf[:i], []byte("SSH-"))
			if w.banner {
				w.version = string(bytes.TrimRight(w.buf[:min(i, 255)], "\r"))
			}
			w.buf = w.buf[i+1:]
			continue
		}
		if len(w.buf) < 5 {
			return
		}
		n := binary.BigEndian.Uint32(w.buf)
		if n < 2 || n > maxPacket {
			w.stop()
			return
		}
		if len(w.buf) < 4+int(n) {
			return
		}
		pad := int(w.buf[4])
		if pad+1 >= int(n) {
			w.stop()
			return
		}
		payload := w.buf[5 : 4+int(n)-pad]
		w.buf = w.buf[4+int(n):]
		switch payload[0] {
		case msgNewKeys:
			w.newKeys, w.after = true, len(w.buf)
			w.stop()
		case msgKexReply, msgGEXReply:
			if k := firstKey(payload[1:]); k != nil && w.key == nil {
				w.key = k
			}
		}
	}
}

func (w *hostKeyWatch) stop() { w.done, w.buf = true, nil }

// firstKey parses b's first SSH string as a public key (not a
// certificate), or returns nil.
func firstKey(b []byte) ssh.PublicKey {
	if len(b) < 4 {
		return nil
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil
	}
	k, err := ssh.ParsePublicKey(b[4 : 4+n])
	if err != nil {
		return nil
	}
	if _, isCert := k.(*ssh.Certificate); isCert {
		return nil
	}
	return k
}
