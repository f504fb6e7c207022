package authkeys

import (
	"strings"
	"testing"
)

func FuzzParseChain(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := parseChain(b)
		if err == nil && (len(certs) == 0 || len(certs) > maxChain) {
			t.Fatalf("parseChain accepted %d certificates", len(certs))
		}
	})
}

func FuzzValidUser(f *testing.F) {
	for _, s := range []string{"alice", "../x", "a/b", "ec2-user", "machine$", "a..b", "-x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		if ValidUser(user) != nil {
			return
		}
		if user == "" || len(user) > MaxUserLength || strings.ContainsAny(user, "/%?#\\ ") ||
			strings.Contains(user, "..") || strings.ContainsFunc(user, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			t.Fatalf("ValidUser accepted %q", user)
		}
	})
}
