// Package brief shortens text for one-line output: tool errors, commit ids.
// Every message of the suite that quotes a tool's output goes through it,
// so they all read the same way.
package brief

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line joins the lines of s with " | " and collapses runs of whitespace:
// a multi-line tool error becomes one line of a log or summary.
func Line(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")), " ")
}

// First is the first line of s, trimmed.
func First(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// IDLen is how many characters of a commit or change id are shown: as git
// log --abbrev=12, enough to be unique in any dotfiles or config repository.
const IDLen = 12

// ID is the first IDLen characters of a commit or change id.
func ID(id string) string {
	if len(id) > IDLen {
		return id[:IDLen]
	}
	return id
}

// Safe escapes what a terminal would act on in s: control characters (C0,
// DEL, C1: escape sequences that retitle the window, clear the screen or
// move the cursor) become \xHH or \uHHHH, and bytes that are not UTF-8
// become \xHH. Every human-output path that prints a string someone else
// may have chosen (a history field, a commit subject, a path, a tool's
// error) goes through it; JSON output keeps the exact string.
func Safe(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
