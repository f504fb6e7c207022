package config

import (
	"strings"
	"testing"
	"time"
)

const prefsBase = "[[identities]]\nname = \"d\"\n"

func TestSessionPreferences(t *testing.T) {
	a, err := Builtin().Resolve("carol")
	if err != nil {
		t.Fatal(err)
	}
	if a.IdleSessionTimeout != 20*time.Minute || a.MaxSessionDuration != 0 {
		t.Errorf("defaults: idle %v, max %v; want 20m and none", a.IdleSessionTimeout, a.MaxSessionDuration)
	}
	for _, c := range []struct {
		toml      string
		idle, max time.Duration
	}{
		{"idle_session_timeout = \"60\"\nmax_session_duration = \"1440\"", time.Hour, 24 * time.Hour},
		{"idle_session_timeout = \"3s\"\nmax_session_duration = \"1m30s\"", 3 * time.Second, 90 * time.Second},
		{"max_session_duration = \"\"", 20 * time.Minute, 0},
	} {
		f, err := Parse([]byte(prefsBase+"[session_preferences]\n"+c.toml+"\n"), "")
		if err != nil {
			t.Fatalf("%q: %v", c.toml, err)
		}
		a, err := f.Resolve("carol")
		if err != nil {
			t.Fatal(err)
		}
		if a.IdleSessionTimeout != c.idle || a.MaxSessionDuration != c.max {
			t.Errorf("%q: idle %v, max %v; want %v, %v", c.toml, a.IdleSessionTimeout, a.MaxSessionDuration, c.idle, c.max)
		}
	}
	for _, c := range []struct{ toml, want string }{
		{`idle_session_timeout = "0"`, "session_preferences.idle_session_timeout: 0 minutes is out of range 1-60"},
		{`idle_session_timeout = "61"`, "out of range 1-60"},
		{`idle_session_timeout = "2h"`, "out of range"},
		{`max_session_duration = "1441"`, "session_preferences.max_session_duration: 1441 minutes is out of range 1-1440"},
		{`max_session_duration = "-3s"`, "out of range"},
		{`max_session_duration = "soon"`, "neither whole minutes nor a duration"},
		{`idle = "3"`, "idle"},
	} {
		_, err := Parse([]byte(prefsBase+"[session_preferences]\n"+c.toml+"\n"), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.toml, err, c.want)
		}
	}
}

func FuzzParseSessionMinutes(f *testing.F) {
	for _, s := range []string{"", "20", "0", "1440", "3s", "-1m", "1e9h", " 5 ", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSessionMinutes(s, 60)
		if err != nil {
			if d != 0 {
				t.Fatalf("%q: error %v with duration %v", s, err, d)
			}
			return
		}
		if d < 0 || d > time.Hour || (d == 0 && strings.TrimSpace(s) != "") {
			t.Fatalf("%q: accepted %v", s, d)
		}
	})
}
