// Package brief shortens text for one-line output: tool errors, commit ids.
// Every message of the suite that quotes a tool's output goes through it,
// so they all read the same way.
package brief

import "strings"

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
