package eickey_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/jitssh/jitssh/internal/eickey"
)

// The sandbox signs and formats a blob; the host parses and verifies it.
func Example() {
	signer, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Unix(1_800_000_000, 0)

	entry, _ := eickey.Sign(eickey.Draft{
		Expires:  now.Add(60 * time.Second),
		Instance: "i-0123456789abcdef0",
		Caller:   "arn:aws:sts::123456789012:assumed-role/Developer/alice",
		Request:  "0b1f5c2e-1234-4abc-9def-0123456789ab",
		KeyLine:  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGHMhPHkcmcYB7tEp1PumSUqj76ygUOddaXOfOu6bNzW alice",
	}, func(b []byte) ([]byte, error) { return eickey.SignPSS(signer, b) })
	blob := eickey.Format([]eickey.Entry{entry})

	entries, _ := eickey.Parse(blob)
	policy := eickey.Policy{Signer: &signer.PublicKey, Instance: "i-0123456789abcdef0", Now: now}
	for _, e := range entries {
		if err := eickey.Verify(&e, policy); err != nil {
			fmt.Println("refused:", eickey.ReasonOf(err))
			continue
		}
		fmt.Println(e.KeyLine)
		fmt.Println("pushed by", e.Caller)
	}
	policy.Instance = "i-0fedcba9876543210"
	fmt.Println("elsewhere:", eickey.ReasonOf(eickey.Verify(&entries[0], policy)))
	// Output:
	// ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGHMhPHkcmcYB7tEp1PumSUqj76ygUOddaXOfOu6bNzW alice
	// pushed by arn:aws:sts::123456789012:assumed-role/Developer/alice
	// elsewhere: wrong-instance
}
