// Package pyjson writes JSON exactly as Python's json.dumps does with its
// defaults (ensure_ascii, ", " and ": " separators, sort_keys where
// asked): the AWS CLI (botocore) names its cache files by the SHA-1 of
// such text, and jitssh must name them alike so that the two tools share
// the MFA role sessions and the SSO registration.
package pyjson

import (
	"sort"
	"strings"
	"unicode/utf16"
)

// String is s as json.dumps writes a str: quotes, \" \\ \n \r \t \b \f,
// other control characters and everything beyond ASCII (DEL included) as
// lowercase \uXXXX (UTF-16 surrogate pairs above the BMP). Invalid UTF-8
// becomes U+FFFD: botocore would refuse such a config; a key only has to
// be stable.
func String(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r > 0x7e && r <= 0xffff):
				writeU(&b, r)
			case r > 0xffff:
				hi, lo := utf16.EncodeRune(r)
				writeU(&b, hi)
				writeU(&b, lo)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeU(b *strings.Builder, r rune) {
	const hexdigits = "0123456789abcdef"
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexdigits[(r>>uint(shift))&0xf])
	}
}

// OptString is String, or null for "" (Python's None).
func OptString(s string) string {
	if s == "" {
		return "null"
	}
	return String(s)
}

// Strings is a list of str, or null for a nil slice.
func Strings(ss []string) string {
	if ss == nil {
		return "null"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = String(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Object is json.dumps(d, sort_keys=True) of an object with ASCII keys
// whose values are already encoded (String, Strings, numbers, null).
func Object(fields map[string]string) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names) // Python sorts str keys by code point; these are ASCII
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(String(k))
		b.WriteString(": ")
		b.WriteString(fields[k])
	}
	b.WriteByte('}')
	return b.String()
}
