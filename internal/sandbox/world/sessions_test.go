package world

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jitssh/jitssh/internal/sandbox/totp"
)

func TestRoleSessionsAndMFA(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	secret := []byte("12345678901234567890")
	serial := "arn:aws:iam::123456789012:mfa/carol"
	w, err := New(Config{Region: "us-east-1", Account: "123456789012", Now: func() time.Time { return now },
		Roles:      []Role{{Name: "Admin", Tags: map[string]string{"userName": "role-default", "team": "ops"}, MaxSession: 2 * time.Hour}},
		MFADevices: []MFADevice{{Serial: serial, UserARN: "arn:aws:iam::123456789012:user/carol", Secret: secret}}})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := w.Role("Admin")
	if !ok || r.ARN != "arn:aws:iam::123456789012:role/Admin" || !strings.HasPrefix(r.ID, "AROA") || len(r.ID) != 21 {
		t.Fatalf("Role = %+v, %v", r, ok)
	}
	if got, ok := w.RoleByARN(r.ARN); !ok || got.Name != "Admin" {
		t.Errorf("RoleByARN(%s) = %v", r.ARN, ok)
	}
	if _, ok := w.RoleByARN("arn:aws:iam::999999999999:role/Admin"); ok {
		t.Error("RoleByARN found a role of another account")
	}
	s := w.RoleSession(r, "carol", map[string]string{"UserName": "carol"})
	if s.ARN != "arn:aws:sts::123456789012:assumed-role/Admin/carol" || s.UserID != r.ID+":carol" {
		t.Errorf("RoleSession = %s %s", s.ARN, s.UserID)
	}
	if s.Tags["UserName"] != "carol" || s.Tags["team"] != "ops" || len(s.Tags) != 2 {
		t.Errorf("session tags %v: the session's UserName overrides the role's userName, team comes from the role", s.Tags)
	}
	s.MFAAuthTime = now
	c := w.IssueSession(s, time.Hour)
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 || c.SessionToken == "" || !c.Expiration.Equal(now.Add(time.Hour)) {
		t.Errorf("IssueSession = %+v", c)
	}
	got, ok := w.Identity(c.AccessKeyID)
	if !ok || got.SessionToken != c.SessionToken || !got.TokenIssueTime.Equal(now) || !got.MFAAuthTime.Equal(now) || !got.RoleSession() {
		t.Errorf("Identity = %+v", got)
	}
	if cred, ok := w.Credential(c.AccessKeyID); !ok || cred.SessionToken != c.SessionToken || cred.Secret != c.SecretAccessKey {
		t.Errorf("Credential = %+v", cred)
	}
	if len(w.Identities()) != 0 {
		t.Error("sessions are listed among the long-term identities")
	}

	code := totp.Code(secret, now)
	if err := w.CheckMFA(serial, code); err != nil {
		t.Fatalf("current code: %v", err)
	}
	if err := w.CheckMFA(serial, code); !errors.Is(err, totp.ErrReused) {
		t.Errorf("the same code again: %v, want ErrReused", err)
	}
	if err := w.CheckMFA(serial, totp.Code(secret, now.Add(totp.Step))); err != nil {
		t.Errorf("next window's code: %v", err)
	}
	if err := w.CheckMFA("arn:aws:iam::123456789012:mfa/nobody", code); !errors.Is(err, ErrNoMFADevice) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := New(Config{Region: "us-east-1", Account: "1", Roles: []Role{{Name: "X", MaxSession: 13 * time.Hour}}}); err == nil {
		t.Error("a 13 h maximum session was accepted")
	}
}
