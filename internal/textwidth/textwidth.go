// Package textwidth measures text by the columns a terminal gives it, for
// the tables of `jitssh ls`, the ambiguity error and the picker: a wide
// East Asian character takes two columns, a combining mark none, so
// padding by bytes (or by runes) would misalign any row whose Name tag is
// not plain ASCII.
//
// Widths come from github.com/mattn/go-runewidth (Unicode's East Asian
// Width property and grapheme clusters, the tables terminals follow), with
// ambiguous-width characters counted as one column whatever the locale, so
// that output does not depend on LANG.
package textwidth

import (
	"strings"

	"github.com/mattn/go-runewidth"
)

var cond = func() *runewidth.Condition {
	c := runewidth.NewCondition()
	c.EastAsianWidth = false
	return c
}()

// Width returns the number of terminal columns s takes.
func Width(s string) int { return cond.StringWidth(s) }

// Pad returns s followed by enough spaces to fill width columns (s
// unchanged if it is already as wide).
func Pad(s string, width int) string {
	if n := width - Width(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}
